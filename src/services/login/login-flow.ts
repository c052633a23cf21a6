import type { AccountService } from '../accounts/accounts.js'
import type { AuditLog, RequestContext } from '../audit/audit-log.js'
import { GatehouseError } from '../errors.js'
import type { IssuedTokens, SessionService } from '../sessions/session-service.js'
import { normalizeIdentifier } from '../accounts/accounts.js'
import type { LoginGuard } from './login-guard.js'

export type LoginResult = { kind: 'tokens'; tokens: IssuedTokens }

export type LoginFlow = ReturnType<typeof createLoginFlow>

/** Orchestrates a login: the password step, then (when enrolled) the second factor, then a session. */
export function createLoginFlow(deps: {
  accounts: AccountService
  sessions: SessionService
  audit: AuditLog
  guard: LoginGuard
}) {
  const { accounts, sessions, audit, guard } = deps
  return {
    async login(input: {
      identifier: string
      password: string
      context: RequestContext
    }): Promise<LoginResult> {
      const attempt = {
        username: normalizeIdentifier(input.identifier),
        userId: null,
        ip: input.context.ip,
        entered: input.identifier,
        context: input.context,
      }
      await guard.beforeAttempt(attempt)
      let user
      try {
        user = await accounts.checkPassword(input.identifier, input.password, input.context)
      } catch (err) {
        if (err instanceof GatehouseError && err.code === 'invalid_credentials')
          await guard.recordFailure(attempt)
        else await guard.releaseAttempt(attempt)
        throw err
      }
      await guard.recordSuccess({ ...attempt, userId: user.id })
      const tokens = await sessions.start({ userId: user.id, amr: ['pwd'], context: input.context })
      await audit.record({
        event: 'login_succeeded',
        outcome: 'success',
        userId: user.id,
        username: input.identifier,
        details: { amr: ['pwd'], session_id: tokens.sessionId },
        context: input.context,
      })
      return { kind: 'tokens', tokens }
    },
  }
}
