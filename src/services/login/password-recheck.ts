import type { PasswordHasher } from '../../crypto/password-hasher.js'
import type { Db } from '../../store/db.js'
import { findPasswordHash } from '../../store/repositories/users.js'
import { isCompromised } from '../../store/repositories/notifications.js'
import { normalizeIdentifier, passwordResetRequired } from '../accounts/accounts.js'
import type { AuditLog, RequestContext } from '../audit/audit-log.js'
import { GatehouseError } from '../errors.js'
import type { LoginGuard } from './login-guard.js'

/** The signed-in user whose password is asked again. */
export interface Rechecked {
  userId: string
  username: string
}

export interface RecheckOptions {
  /** The body field that held the password, named in the error. */
  field: string
  /** What the password unlocks (`password_change`, `mfa_disable`, …), for the audit log. */
  action: string
  context: RequestContext
}

export type PasswordRecheck = ReturnType<typeof createPasswordRecheck>

/**
 * SPEC §4.2: the endpoints that re-prove the signed-in user's password (password change,
 * 2FA disable, new backup codes) are login attempts of that user. A wrong password counts
 * for throttling and lockout and is audited as `login_failed`; a right one counts as
 * nothing. Holding an access token must not buy unlimited password guesses.
 */
export function createPasswordRecheck(deps: {
  db: Db
  hasher: PasswordHasher
  guard: LoginGuard
  audit: AuditLog
}) {
  const { db, hasher, guard, audit } = deps

  /** An account without a password still pays for a hash, so the answer takes as long. */
  async function assertPassword(who: Rechecked, password: string, opts: RecheckOptions) {
    const hash = await findPasswordHash(db, who.userId)
    const verdict = hash ? await hasher.verify(hash, password) : undefined
    if (verdict?.ok) {
      // SPEC §4.13: a password blocked by "this wasn't me" proves nothing until a reset.
      if (await isCompromised(db, who.userId)) throw passwordResetRequired()
      return
    }
    if (!hash) await hasher.verifyDummy(password)
    await audit.record({
      event: 'login_failed',
      outcome: 'failure',
      userId: who.userId,
      username: who.username,
      details: { reason: 'wrong_password', action: opts.action },
      context: opts.context,
    })
    throw new GatehouseError('invalid_credentials', { detail: `${opts.field} is wrong` })
  }

  return {
    /**
     * Checks the password inside one guarded attempt, then runs `andThen` (a second factor
     * asked alongside) inside the same attempt: a wrong code there counts as well.
     */
    async verify<T = void>(
      who: Rechecked,
      password: string,
      opts: RecheckOptions,
      andThen?: () => Promise<T>,
    ): Promise<T | undefined> {
      const attempt = {
        username: normalizeIdentifier(who.username),
        userId: who.userId,
        ip: opts.context.ip,
        entered: who.username,
        context: opts.context,
      }
      return guard.withAttempt(attempt, async () => {
        await assertPassword(who, password, opts)
        return andThen?.()
      })
    },
  }
}
