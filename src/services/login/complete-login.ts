import type { AuditLog, RequestContext } from '../audit/audit-log.js'
import type { IssuedTokens, SessionService } from '../sessions/session-service.js'
import type { LoginAttempt, LoginGuard } from './login-guard.js'

export type CompleteLogin = ReturnType<typeof createLoginCompletion>

/** The end of every login (password, second factor, passkey): a session and its audit. */
export function createLoginCompletion(deps: {
  guard: LoginGuard
  sessions: Pick<SessionService, 'start'>
  audit: AuditLog
}) {
  const { guard, sessions, audit } = deps
  /** Every factor passed: only now does the guard reset its consecutive-failure count. */
  return async function complete(
    attempt: LoginAttempt & { userId: string },
    username: string,
    amr: string[],
    context: RequestContext,
  ): Promise<IssuedTokens> {
    await guard.recordSuccess(attempt)
    const tokens = await sessions.start({ userId: attempt.userId, amr, context })
    await audit.record({
      event: 'login_succeeded',
      outcome: 'success',
      userId: attempt.userId,
      username,
      details: { amr, session_id: tokens.sessionId },
      context,
    })
    return tokens
  }
}
