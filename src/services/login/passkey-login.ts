import type { AuthenticationResponseJSON } from '@simplewebauthn/server'
import type { Db } from '../../store/db.js'
import { findContactsById } from '../../store/repositories/contacts.js'
import { isCompromised } from '../../store/repositories/notifications.js'
import { accountRefusal } from '../accounts/account-refusal.js'
import { normalizeIdentifier } from '../accounts/accounts.js'
import type { AuditLog, RequestContext } from '../audit/audit-log.js'
import { GatehouseError } from '../errors.js'
import type { SecurityMetrics } from '../metrics.js'
import type { AssertionVerdict, PasskeyAssertions } from '../passkeys/assertions.js'
import type { IssuedTokens } from '../sessions/session-service.js'
import type { CompleteLogin } from './complete-login.js'
import type { LoginAttempt, LoginGuard } from './login-guard.js'

/** RFC 8176: a hardware key, verified by the user (PIN or biometric): both factors in one. */
export const PASSKEY_AMR = ['hwk', 'user', 'mfa']

export type PasskeyLogin = ReturnType<typeof createPasskeyLogin>

/**
 * Passwordless sign-in with a discoverable passkey (SPEC §4.9). The passkey takes the place
 * of the password in every account check: the login guard (throttle, lockout), then
 * disabled and locked accounts, refused after the right factor as password logins are.
 */
export function createPasskeyLogin(deps: {
  db: Db
  guard: LoginGuard
  audit: AuditLog
  metrics: SecurityMetrics
  passkeys: Pick<
    PasskeyAssertions,
    'findCredential' | 'verifyPasswordless' | 'optionsForDiscoverable'
  >
  complete: CompleteLogin
}) {
  const { db, guard, audit, metrics, passkeys } = deps

  return {
    /** `passkey/options`: a challenge for whichever passkey the authenticator offers. */
    options: () => passkeys.optionsForDiscoverable(),

    async login(input: {
      challengeId: string
      response: AuthenticationResponseJSON
      context: RequestContext
    }): Promise<IssuedTokens> {
      const { response, context } = input
      const credential = await passkeys.findCredential(response.id)
      const user = credential && (await findContactsById(db, credential.user_id))
      // The account is throttled as at a password login; an unknown passkey is throttled by
      // its id (as unknown usernames are) and by the client's address.
      const attempt: LoginAttempt = user
        ? {
            username: normalizeIdentifier(user.username),
            userId: user.id,
            ip: context.ip,
            entered: user.username,
            context,
          }
        : {
            username: `passkey:${response.id.slice(0, 200)}`,
            userId: null,
            ip: context.ip,
            context,
          }
      return guard.withAttempt(attempt, async (scope) => {
        // A database failure while checking throws something other than invalid_code, and the
        // guard gives the attempt back uncounted.
        const verdict: AssertionVerdict = await passkeys.verifyPasswordless(
          input.challengeId,
          user ? credential : undefined,
          response,
          context,
        )
        const failed = (reason: string) =>
          audit.record({
            event: 'login_failed',
            outcome: 'failure',
            userId: user?.id ?? null,
            username: user?.username ?? null,
            details: { method: 'passkey', reason },
            context,
          })
        if (!verdict.ok || !user) {
          // invalid_code: the guard counts it as a failed login.
          await failed(verdict.ok ? 'credential' : verdict.reason)
          throw new GatehouseError('invalid_code', {
            detail: 'the passkey response is not valid; ask for new options and try again',
          })
        }
        // SPEC §4.13: after "this wasn't me" the account signs in again only after a reset. A
        // passkey is refused as the old password is: the one reported may be a passkey an
        // intruder added (its notice carried the link), which would otherwise go on signing
        // them in after every session was ended.
        const refusal = await accountRefusal(user, () => isCompromised(db, user.id))
        if (refusal) {
          // The right factor for an account that refuses: not a failure to count, and the
          // guard gives the attempt back.
          metrics.login('failure')
          await failed(refusal.code)
          throw refusal
        }
        return deps.complete(scope, user, PASSKEY_AMR, context)
      })
    },
  }
}
