import type { AuditLog, RequestContext } from '../audit/audit-log.js'
import type { IssuedTokens, SessionService } from '../sessions/session-service.js'
import type { AttemptScope } from './login-guard.js'

export type CompleteLogin = ReturnType<typeof createLoginCompletion>

/** The end of every login (password, second factor, passkey): a session and its audit. */
export function createLoginCompletion(deps: {
  sessions: Pick<SessionService, 'start'>
  audit: AuditLog
}) {
  const { sessions, audit } = deps
  /**
   * Every factor passed: only now does the guard reset its consecutive-failure count, so
   * it runs inside the attempt's `withAttempt` scope. The session, its refresh token, the
   * reset and the audit event are one transaction (one commit on the login path).
   */
  return async function complete(
    scope: AttemptScope,
    /**
     * The account, just read and found usable by the caller; `enteredAs` is the name the
     * person typed (the audit event's username), when it may differ (an email address).
     */
    user: { id: string; username: string; enteredAs?: string },
    amr: string[],
    context: RequestContext,
  ): Promise<IssuedTokens> {
    scope.succeeded()
    return sessions.start({
      userId: user.id,
      username: user.username,
      amr,
      context,
      alsoWrite: async (trx, sessionId) => {
        await scope.writeSuccess(trx)
        await audit.recordIn(trx, {
          event: 'login_succeeded',
          outcome: 'success',
          userId: user.id,
          username: user.enteredAs ?? user.username,
          details: { amr, session_id: sessionId },
          context,
        })
      },
    })
  }
}
