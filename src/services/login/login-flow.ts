import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server'
import type { Db } from '../../store/db.js'
import { findContactsById } from '../../store/repositories/contacts.js'
import { isCompromised } from '../../store/repositories/notifications.js'
import type { AccountService } from '../accounts/accounts.js'
import type { MfaSummaryReader } from '../accounts/user-profile.js'
import type { AuditLog, RequestContext } from '../audit/audit-log.js'
import type { CodeChannel, OneTimeCodes } from '../codes/one-time-codes.js'
import { GatehouseError } from '../errors.js'
import type { SecurityMetrics } from '../metrics.js'
import { hasSecondFactor, methodsOf, mfaSummaryOf, type MfaMethod } from '../mfa/factors.js'
import type { MfaTokens } from '../mfa/mfa-tokens.js'
import { amrAfter, type CodeMethod, type SecondFactorCheck } from '../mfa/second-factor.js'
import type { PasskeyAssertions } from '../passkeys/assertions.js'
import type { IssuedTokens, SessionService } from '../sessions/session-service.js'
import { createLoginCompletion } from './complete-login.js'
import { accountRefusal } from '../accounts/account-refusal.js'
import { normalizeIdentifier } from '../accounts/accounts.js'
import type { LoginAttempt, LoginGuard } from './login-guard.js'

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
  passkeys: Pick<PasskeyAssertions, 'optionsForUser' | 'verifyForUser'>
}) {
  const { db, accounts, audit, guard, metrics, mfaSummary, mfaTokens } = deps
  const complete = createLoginCompletion(deps)

  /** A wrong second factor counts like a wrong password (SPEC §4.5): the guard sees invalid_code. */
  async function secondFactorFailed(
    userId: string,
    username: string,
    method: string,
    context: RequestContext,
    reason?: string,
  ): Promise<never> {
    await audit.record({
      event: 'mfa_failed',
      outcome: 'failure',
      userId,
      username,
      details: reason === undefined ? { method } : { method, reason },
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

  /**
   * The second step for an `mfa_token`, whatever the factor: `check` looks at the factor only
   * after the guard admitted the attempt and the token gave up one of its tries. Refusals
   * that check no factor throw something other than invalid_code, and the guard gives their
   * attempt back.
   */
  async function verifySecondFactor(
    mfaToken: string,
    method: MfaMethod,
    context: RequestContext,
    check: (user: { id: string; username: string }) => Promise<{ ok: boolean; reason?: string }>,
  ): Promise<IssuedTokens> {
    const row = await mfaTokens.findLive(mfaToken)
    if (!row) throw deadMfaToken()
    const attempt: LoginAttempt = {
      username: row.login_name,
      userId: row.user_id,
      ip: context.ip,
      context,
    }
    return guard.withAttempt(attempt, async (scope) => {
      // The try is taken, and the token held, before the factor is looked at: parallel
      // guesses stay within five, and of two right codes at once only one is used up.
      const hold = await mfaTokens.hold(mfaToken)
      if (!hold) throw deadMfaToken()
      let user: { id: string; username: string }
      let spent = false
      try {
        user = await usableAccount(row.user_id)
        const enrolled = methodsOf(await mfaSummary(user.id)).includes(method)
        const verdict = enrolled ? await check(user) : { ok: false }
        if (!verdict.ok)
          return await secondFactorFailed(user.id, user.username, method, context, verdict.reason)
        if (!(await hold.spend())) throw deadMfaToken()
        spent = true
      } finally {
        if (!spent) await hold.release()
      }
      await secondFactorPassed(user.id, user.username, method, context)
      return complete(scope, user, amrAfter(method), context)
    })
  }

  /** The account an `mfa_token` signs in to, if it may still sign in. */
  async function usableAccount(userId: string): Promise<{ id: string; username: string }> {
    const user = await findContactsById(db, userId)
    if (!user) throw deadMfaToken()
    // An mfa_token from before a "this wasn't me" report must not finish the login it began.
    const refusal = await accountRefusal(user, () => isCompromised(db, user.id))
    if (refusal) throw refusal
    return user
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
      // One read for the guard's first look and the password step (the same account).
      const record = await accounts.findForLogin(identifier)
      const attempt: LoginAttempt = {
        username: normalizeIdentifier(identifier),
        userId: null,
        ip: context.ip,
        entered: identifier,
        context,
        lockout: record?.lockout ?? null,
      }
      return guard.withAttempt(attempt, async (scope) => {
        let user
        try {
          user = await accounts.checkPassword(record, identifier, input.password, context)
        } catch (err) {
          // The guard counts wrong passwords (and their metric); a right password for an
          // account that refuses (disabled, locked) gives the attempt back uncounted.
          if (err instanceof GatehouseError && err.code !== 'invalid_credentials')
            metrics.login('failure')
          throw err
        }
        const known = { id: user.id, username: user.username, enteredAs: identifier }
        const summary = mfaSummaryOf(user.mfa)
        if (!hasSecondFactor(summary)) {
          const tokens = await complete(scope, known, ['pwd'], context)
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
          const tokens = await complete(scope, known, amrAfter('totp'), context)
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

    /** `login/verify` with a code: the second factor for an `mfa_token`. */
    verify(input: {
      mfaToken: string
      method: CodeMethod
      code: string
      context: RequestContext
    }): Promise<IssuedTokens> {
      const { method, context } = input
      return verifySecondFactor(input.mfaToken, method, context, async (user) => ({
        ok: await deps.secondFactor.verify({
          userId: user.id,
          username: user.username,
          method,
          code: input.code,
          context,
        }),
      }))
    },

    /** `login/verify` with `method: "webauthn"`: a passkey's answer to `login/webauthn/options`. */
    verifyPasskey(input: {
      mfaToken: string
      response: AuthenticationResponseJSON
      context: RequestContext
    }): Promise<IssuedTokens> {
      return verifySecondFactor(input.mfaToken, 'webauthn', input.context, (user) =>
        deps.passkeys.verifyForUser(user.id, input.response, input.context),
      )
    },

    /** `login/webauthn/options`: what the user's passkeys are to sign for this `mfa_token`. */
    async passkeyOptions(mfaToken: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
      const row = await mfaTokens.findLive(mfaToken)
      if (!row) throw deadMfaToken()
      if ((await mfaSummary(row.user_id)).webauthn === 0) {
        throw new GatehouseError('validation_error', {
          detail: "mfa_token: webauthn is not among this account's mfa_methods",
        })
      }
      return deps.passkeys.optionsForUser(row.user_id)
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
