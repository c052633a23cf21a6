import type { PasswordHasher } from '../../crypto/password-hasher.js'
import { isCompromised, resolveCompromise } from '../../store/repositories/notifications.js'
import type { Db } from '../../store/db.js'
import { findPasswordHash, updatePasswordHash } from '../../store/repositories/users.js'
import type { AccountService } from '../accounts/accounts.js'
import type { ProfileReader } from '../accounts/user-profile.js'
import type { AuditLog, RequestContext } from '../audit/audit-log.js'
import { GatehouseError } from '../errors.js'
import { loggable, type WarningLog, type Clock } from '../ports.js'
import type { SessionService } from '../sessions/session-service.js'
import { findUserByIdentifier } from './contact-verification.js'
import type { OneTimeCodes } from './one-time-codes.js'

export type PasswordReset = ReturnType<typeof createPasswordReset>

/** Forgot/reset password with a code to a verified contact (SPEC §4.1). */
export function createPasswordReset(deps: {
  db: Db
  clock: Clock
  codes: OneTimeCodes
  accounts: AccountService
  passwords: PasswordHasher
  sessions: SessionService
  audit: AuditLog
  profiles: ProfileReader
  log: WarningLog
}) {
  const { db, clock, codes, audit } = deps
  const pending = new Set<Promise<void>>()

  /**
   * Everything after the account lookup (throttle, code, delivery, audit) runs after the answer,
   * so an existing and an unknown account answer alike and equally fast: only one SELECT each.
   */
  function inBackground(work: () => Promise<void>): void {
    const task = work()
      .catch((err: unknown) =>
        deps.log.warn({ err: loggable(err) }, 'password reset request failed'),
      )
      .finally(() => pending.delete(task))
    pending.add(task)
  }

  async function request(identifier: string, context: RequestContext): Promise<void> {
    const user = await findUserByIdentifier(db, identifier)
    const target =
      user?.email && user.email_verified_at !== null
        ? { channel: 'email' as const, to: user.email }
        : user?.phone && user.phone_verified_at !== null
          ? { channel: 'sms' as const, to: user.phone }
          : undefined
    inBackground(async () => {
      const failed = (reason: string) =>
        audit.record({
          event: 'password_reset_requested',
          outcome: 'failure',
          userId: user?.id ?? null,
          username: identifier,
          details: { reason },
          context,
        })
      // Only a verified contact gets a reset code: a mistyped address must not own the account.
      if (!user || !target) return failed(user ? 'no_verified_contact' : 'unknown_user')
      const prepared = await codes.prepare({
        userId: user.id,
        purpose: 'password_reset',
        ...target,
      })
      if (!prepared.ok) return failed('throttled')
      await audit.record({
        event: 'password_reset_requested',
        outcome: 'success',
        userId: user.id,
        username: identifier,
        details: { channel: target.channel },
        context,
      })
      await prepared.deliver()
    })
  }

  /**
   * After "this wasn't me" the password is one someone else knows (NIST SP 800-63B §5.1.1.2:
   * a compromised password is not to be chosen again): the reset that answers the report
   * must not set it back. Only then is the old hash checked, so other resets cost no extra
   * hash; the code, already matched, proves the caller owns the account, and stays unspent.
   */
  async function refuseReportedPassword(userId: string, newPassword: string): Promise<void> {
    if (!(await isCompromised(db, userId))) return
    const stored = await findPasswordHash(db, userId)
    if (stored && (await deps.passwords.verify(stored, newPassword)).ok) {
      throw new GatehouseError('validation_error', {
        detail: `new_password: is the password from before your "this wasn't me" report; choose a new one`,
      })
    }
  }

  return {
    request,

    /** Sets a new password with a reset code; every session of the user ends. */
    async reset(
      identifier: string,
      code: string,
      newPassword: string,
      context: RequestContext,
    ): Promise<void> {
      // The policy first, so a weak new password does not burn the code; and before the
      // lookup, against the name as typed, so that a weak password answers validation_error
      // for unknown accounts too: otherwise 400 against 401 told which accounts exist.
      deps.accounts.assertPasswordPolicy(newPassword, identifier, 'new_password')
      const user = await findUserByIdentifier(db, identifier)
      const refused = async (reason: 'unknown_user' | 'invalid_code'): Promise<never> => {
        await audit.record({
          event: 'password_reset',
          outcome: 'failure',
          userId: user?.id ?? null,
          username: identifier,
          details: { reason },
          context,
        })
        throw new GatehouseError('invalid_code', { detail: 'the code is wrong, used or expired' })
      }
      // Audited like a wrong code (as forgot-password audits unknown names): the probe
      // shows, and both answers cost the same write.
      if (!user) return refused('unknown_user')
      // Typed as an email, the account's own username is another name the password must not be.
      deps.accounts.assertPasswordPolicy(newPassword, user.username, 'new_password')
      // Matched now, spent only with the new password: a hash refused under load, or a
      // failure of the transaction, leaves the code for another try.
      const row = await codes.match({ userId: user.id, purpose: 'password_reset', code })
      if (!row) return refused('invalid_code')
      await refuseReportedPassword(user.id, newPassword)
      const hash = await deps.passwords.hash(newPassword)
      const nowMs = clock.now().getTime()
      // One transaction: a new password with the old sessions still alive (or the other way
      // round, or a spent code and no new password) must not be what a failure half way
      // leaves behind.
      const reset = await audit.change(async (trx, record) => {
        // A parallel reset with the same code spent it first: now a used code.
        if (!(await codes.spendIn(trx, row))) return false
        await updatePasswordHash(trx, user.id, hash, nowMs)
        // The reset is the way back after "this wasn't me" (SPEC §4.13), and closes the
        // links of everything before it.
        await resolveCompromise(trx, user.id, nowMs)
        await deps.sessions.endAllWithin(trx, user.id, 'password_reset', { context })
        await record({
          event: 'password_reset',
          outcome: 'success',
          userId: user.id,
          username: identifier,
          details: { channel: row.channel },
          context,
        })
        return true
      })
      if (!reset) return refused('invalid_code')
      deps.profiles.changed(user.id)
    },

    /** Resolves when every background request has finished (shutdown, tests). */
    async idle(): Promise<void> {
      while (pending.size > 0) await Promise.allSettled([...pending])
    },
  }
}
