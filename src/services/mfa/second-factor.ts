import type { AuditLog, RequestContext } from '../audit/audit-log.js'
import type { ProfileReader } from '../accounts/user-profile.js'
import type { OneTimeCodes } from '../codes/one-time-codes.js'
import type { BackupCodes } from './backup-codes.js'
import type { MfaMethod } from './factors.js'
import type { TotpFactor } from './totp-factor.js'

/** The second factors that are checked by a code (passkeys answer a challenge instead). */
export type CodeMethod = Exclude<MfaMethod, 'webauthn'>

/** RFC 8176 `amr` after a password and this factor (SPEC §4.3, §4.9). */
export function amrAfter(method: MfaMethod): string[] {
  if (method === 'webauthn') return ['pwd', 'mfa', 'hwk']
  return ['pwd', 'mfa', method === 'sms' ? 'sms' : 'otp']
}

export type SecondFactorCheck = ReturnType<typeof createSecondFactorCheck>

/** Checks a second-factor code of any kind; every kind is single use, decided in the database. */
export function createSecondFactorCheck(deps: {
  totp: TotpFactor
  backupCodes: BackupCodes
  codes: OneTimeCodes
  audit: AuditLog
  profiles: ProfileReader
}) {
  const { totp, backupCodes, codes, audit, profiles } = deps
  return {
    async verify(input: {
      userId: string
      username: string | null
      method: CodeMethod
      code: string
      context?: RequestContext
      /** What the code is for when it is not a sign-in (e.g. `mfa_disable`), for the audit. */
      action?: string
    }): Promise<boolean> {
      const { userId, code } = input
      switch (input.method) {
        case 'totp':
          return totp.verify(userId, code)
        case 'email':
        case 'sms':
          return (
            (await codes.consume({ userId, purpose: 'login', channel: input.method, code })) !==
            undefined
          )
        case 'backup_code': {
          // Spent with its audit event (and the owner's notice), or not at all.
          const spent = await backupCodes.consume(userId, code, (trx, remaining) =>
            audit.recordIn(trx, {
              event: 'backup_code_used',
              outcome: 'success',
              userId,
              username: input.username,
              details: {
                remaining,
                ...(input.action === undefined ? {} : { action: input.action }),
              },
              context: input.context,
            }),
          )
          if (spent) profiles.changed(userId)
          return spent
        }
      }
    },
  }
}
