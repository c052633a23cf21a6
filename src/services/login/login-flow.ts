import type { Db } from '../../store/db.js'
import { findContactsById } from '../../store/repositories/contacts.js'
import type { AccountService } from '../accounts/accounts.js'
import type { MfaSummaryReader } from '../accounts/user-profile.js'
import type { AuditLog, RequestContext } from '../audit/audit-log.js'
import type { CodeChannel, OneTimeCodes } from '../codes/one-time-codes.js'
import { GatehouseError } from '../errors.js'
import type { SecurityMetrics } from '../metrics.js'
import { hasSecondFactor, methodsOf, type MfaMethod } from '../mfa/factors.js'
import type { MfaTokens } from '../mfa/mfa-tokens.js'
import { amrAfter, type CodeMethod, type SecondFactorCheck } from '../mfa/second-factor.js'
import type { IssuedTokens, SessionService } from '../sessions/session-service.js'
import { normalizeIdentifier } from '../accounts/accounts.js'
import type { AttemptScope, LoginAttempt, LoginGuard } from './login-guard.js'

export type LoginResult =
  | { kind: 'tokens'; tokens: IssuedTokens }
  | { kind: 'mfa_required'; mfaToken: string; methods: MfaMethod[]; expiresIn: number }

export type LoginFlow = ReturnType<typeof createLoginFlow>

const deadMfaToken = () =>
  new GatehouseError('invalid_token', {
    detail: 'the mfa_token is expired, spent or out of tries; log in again',
  })
const wrongCode = () =>
  new GatehouseError('invalid_code', { detail: 'the code is wrong, used or expired' })

/** Orchestrates a login: the password step, then (when enrolled) the second factor, then a session. */
export function createLoginFlow(deps: {
  db: Db
  accounts: AccountService
  sessions: SessionService
  audit: AuditLog
  guard: LoginGuard
  metrics: SecurityMetrics
  mfaSummary: MfaSummaryReader
  mfaTokens: MfaTokens
  secondFactor: SecondFactorCheck
  codes: OneTimeCodes
}) {
  const { db, accounts, sessions, audit, guard, metrics, mfaSummary, mfaTokens } = deps

  /** Both factors passed: only now does the guard reset its consecutive-failure count. */
  async function complete(
    scope: AttemptScope,
    userId: string,
    username: string,
    amr: string[],
    context: RequestContext,
  ): Promise<IssuedTokens> {
    scope.succeeded()
    const tokens = await sessions.start({ userId, amr, context })
    await audit.record({
      event: 'login_succeeded',
      outcome: 'success',
      userId,
      username,
      details: { amr, session_id: tokens.sessionId },
      context,
    })
    return tokens
  }

  /** A wrong second factor counts like a wrong password (SPEC §4.5): the guard sees invalid_code. */
  async function secondFactorFailed(
    userId: string,
    username: string,
    method: string,
    context: RequestContext,
  ): Promise<never> {
    await audit.record({
      event: 'mfa_failed',
      outcome: 'failure',
      userId,
      username,
      details: { method },
      context,
    })
    metrics.mfaVerification(method, 'failure')
    throw wrongCode()
  }

  async function secondFactorPassed(
    userId: string,
    username: string,
    method: string,
    context: RequestContext,
  ): Promise<void> {
    await audit.record({
      event: 'mfa_succeeded',
      outcome: 'success',
      userId,
      username,
      details: { method },
      context,
    })
    metrics.mfaVerification(method, 'success')
  }

  return {
    /**
     * The password step. Without a second factor it ends in tokens; with one it ends in an
     * `mfa_token`, unless a TOTP `otp` came along (one-call login).
     */
    async login(input: {
      identifier: string
      password: string
      otp?: string
      context: RequestContext
    }): Promise<LoginResult> {
      const { identifier, context } = input
      const attempt: LoginAttempt = {
        username: normalizeIdentifier(identifier),
        userId: null,
        ip: context.ip,
        entered: identifier,
        context,
      }
      return guard.withAttempt(attempt, async (scope) => {
        let user
        try {
          user = await accounts.checkPassword(identifier, input.password, context)
        } catch (err) {
          // The guard counts wrong passwords (and their metric); a right password for an
          // account that refuses (disabled, locked) gives the attempt back uncounted.
          if (err instanceof GatehouseError && err.code !== 'invalid_credentials')
            metrics.login('failure')
          throw err
        }
        const summary = await mfaSummary(user.id)
        if (!hasSecondFactor(summary)) {
          const tokens = await complete(scope, user.id, identifier, ['pwd'], context)
          return { kind: 'tokens', tokens } as const
        }

        if (input.otp !== undefined) {
          const ok =
            summary.totp &&
            (await deps.secondFactor.verify({
              userId: user.id,
              username: identifier,
              method: 'totp',
              code: input.otp,
              context,
            }))
          if (!ok) return secondFactorFailed(user.id, identifier, 'totp', context)
          await secondFactorPassed(user.id, identifier, 'totp', context)
          const tokens = await complete(scope, user.id, identifier, amrAfter('totp'), context)
          return { kind: 'tokens', tokens } as const
        }

        // The password was right but the login is not complete: nothing counted, nothing reset.
        const { token, expiresIn } = await mfaTokens.issue(user.id, attempt.username)
        return {
          kind: 'mfa_required',
          mfaToken: token,
          methods: methodsOf(summary),
          expiresIn,
        } as const
      })
    },

    /** `login/verify`: the second factor for an `mfa_token`. */
    async verify(input: {
      mfaToken: string
      method: CodeMethod
      code: string
      context: RequestContext
    }): Promise<IssuedTokens> {
      const { method, context } = input
      const row = await mfaTokens.findLive(input.mfaToken)
      if (!row) throw deadMfaToken()
      const attempt: LoginAttempt = {
        username: row.login_name,
        userId: row.user_id,
        ip: context.ip,
        context,
      }
      // Refusals that check no code throw something other than invalid_code, and the guard
      // gives their attempt back.
      return guard.withAttempt(attempt, async (scope) => {
        // The try is taken before the code is looked at, so parallel guesses stay within five.
        if (!(await mfaTokens.takeAttempt(input.mfaToken))) throw deadMfaToken()
        const user = await findContactsById(db, row.user_id)
        if (!user) throw deadMfaToken()
        if (user.disabled_at !== null)
          throw new GatehouseError('account_disabled', { detail: 'this account is disabled' })
        if (user.locked_at !== null)
          throw new GatehouseError('account_locked', { detail: 'this account is locked' })

        const enrolled = methodsOf(await mfaSummary(user.id)).includes(method)
        const ok =
          enrolled &&
          (await deps.secondFactor.verify({
            userId: user.id,
            username: user.username,
            method,
            code: input.code,
            context,
          }))
        if (!ok) return secondFactorFailed(user.id, user.username, method, context)
        if (!(await mfaTokens.spend(input.mfaToken))) throw deadMfaToken()
        await secondFactorPassed(user.id, user.username, method, context)
        return complete(scope, user.id, user.username, amrAfter(method), context)
      })
    },

    /** `login/send-code`: an email or SMS code to the verified contact of an enrolled channel. */
    async sendCode(input: { mfaToken: string; channel: CodeChannel }): Promise<void> {
      const row = await mfaTokens.findLive(input.mfaToken)
      if (!row) throw deadMfaToken()
      const summary = await mfaSummary(row.user_id)
      const user = await findContactsById(db, row.user_id)
      if (!user) throw deadMfaToken()
      const to =
        input.channel === 'email'
          ? user.email_verified_at !== null && summary.email && user.email
          : user.phone_verified_at !== null && summary.sms && user.phone
      if (!to) {
        throw new GatehouseError('validation_error', {
          detail: `channel: ${input.channel} codes are not among this account's mfa_methods`,
        })
      }
      await deps.codes.send({ userId: user.id, purpose: 'login', channel: input.channel, to })
    },
  }
}
