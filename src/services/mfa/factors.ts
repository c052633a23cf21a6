import type { Db } from '../../store/db.js'
import {
  mfaCountsOf,
  mfaFactsOfUsers,
  mfaFactsQuery,
  type MfaCounts,
} from '../../store/repositories/mfa-facts.js'
import type { MfaSummary } from '../accounts/user-profile.js'

export type MfaMethod = 'totp' | 'webauthn' | 'backup_code' | 'email' | 'sms'

/** True when the user must pass a second factor at login. Backup codes alone do not count. */
export function hasSecondFactor(s: MfaSummary): boolean {
  return s.totp || s.webauthn > 0 || s.email || s.sms
}

/** `mfa_methods` of SPEC §4.1, in the order the SPEC lists them. */
export function methodsOf(s: MfaSummary): MfaMethod[] {
  const methods: MfaMethod[] = []
  if (s.totp) methods.push('totp')
  if (s.webauthn > 0) methods.push('webauthn')
  if (s.backupCodesRemaining > 0 && hasSecondFactor(s)) methods.push('backup_code')
  if (s.email) methods.push('email')
  if (s.sms) methods.push('sms')
  return methods
}

/** `me.mfa` from a user's factor counts. */
export function mfaSummaryOf(counts: MfaCounts): MfaSummary {
  return {
    totp: counts.totp > 0,
    webauthn: counts.passkeys,
    email: counts.email > 0,
    sms: counts.sms > 0,
    backupCodesRemaining: counts.backup,
  }
}

/** `me.mfa`: what second factors a user has, read fresh from the database. */
export function createMfaSummaryReader(deps: { db: Db }) {
  // Read on every /me and second-factor step: one query (five subqueries) built once.
  const facts = mfaFactsQuery(deps.db)
  return async (userId: string): Promise<MfaSummary> => {
    const [row] = await facts({ userId })
    return mfaSummaryOf(mfaCountsOf(row))
  }
}

/** `mfa` of many users at once (admin user lists), without a query per user. */
export function createMfaSummariesReader(deps: { db: Db }) {
  return async (userIds: readonly string[]): Promise<Map<string, MfaSummary>> => {
    const facts = await mfaFactsOfUsers(deps.db, userIds)
    return new Map(
      userIds.map((id) => {
        const f = facts.get(id)!
        return [
          id,
          {
            totp: f.totp,
            webauthn: f.passkeys,
            email: f.channels.includes('email'),
            sms: f.channels.includes('sms'),
            backupCodesRemaining: f.backupCodesRemaining,
          },
        ]
      }),
    )
  }
}
