import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { api, ApiError, installClientHooks } from '../api/client'
import { claimsOf } from '../api/jwt'
import { createRefreshTimer } from '../api/refresh-timer'
import {
  answerWithPasskey,
  getPasskey,
  type PublicKeyCredentialRequestOptionsJSON,
} from '../api/passkeys'
import type { MfaChallenge, TokenResponse, User } from '../api/types'

export type SecondFactor = 'totp' | 'backup_code' | 'email' | 'sms'

/**
 * Who is signed in. The access token lives in this store's memory only (never localStorage):
 * a reload gets a new one from the HttpOnly refresh cookie (SPEC §7 cookie mode).
 */
export const useSessionStore = defineStore('session', () => {
  const accessToken = ref<string>()
  const user = ref<User>()
  const amr = ref<string[]>([])
  const sessionId = ref<string>()
  const permissions = ref<string[]>([])
  const challenge = ref<{ mfaToken: string; methods: string[]; username: string }>()
  /** Who was at a second step that expired: the password form starts with their name again. */
  const interruptedUsername = ref('')
  let restored: Promise<void> | undefined
  let inflight: Promise<boolean> | undefined
  let onLost: () => void = () => undefined

  const signedIn = computed(() => accessToken.value !== undefined)
  const isAdmin = computed(() => user.value?.roles.includes('admin') ?? false)
  const mfaVerified = computed(() => amr.value.includes('mfa'))
  const can = (permission: string) => permissions.value.includes(permission)

  const timer = createRefreshTimer(() => refresh())

  function clear() {
    timer.cancel()
    interruptedUsername.value = ''
    accessToken.value = undefined
    user.value = undefined
    amr.value = []
    sessionId.value = undefined
    permissions.value = []
  }

  async function accept(tokens: TokenResponse) {
    interruptedUsername.value = ''
    accessToken.value = tokens.access_token
    user.value = tokens.user
    const claims = claimsOf(tokens.access_token)
    amr.value = claims.amr ?? []
    sessionId.value = claims.sid
    timer.schedule(tokens.expires_in)
    try {
      permissions.value = (
        await api.get<{ permissions: string[] }>('/api/auth/me/permissions')
      ).permissions
    } catch {
      permissions.value = []
    }
  }

  /** One refresh through the cookie at a time, however many callers ask at once. */
  function refresh(): Promise<boolean> {
    inflight ??= api
      .post<TokenResponse>('/api/auth/refresh', {}, { auth: false })
      .then(async (tokens) => {
        await accept(tokens)
        return true
      })
      .catch(() => {
        clear()
        return false
      })
      .finally(() => {
        inflight = undefined
      })
    return inflight
  }

  /** After a reload: try the cookie once before the first page decides who is signed in. */
  function restore(): Promise<void> {
    restored ??= refresh().then(() => undefined)
    return restored
  }

  installClientHooks({
    accessToken: () => accessToken.value,
    refresh,
    sessionLost: () => {
      clear()
      onLost()
    },
  })

  function onSessionLost(fn: () => void) {
    onLost = fn
  }

  /** Password step; 'mfa' when a second factor is needed (then `challenge` is set). */
  async function login(username: string, password: string): Promise<'done' | 'mfa'> {
    interruptedUsername.value = ''
    const res = await api.post<TokenResponse | MfaChallenge>(
      '/api/auth/login',
      { username, password },
      { auth: false },
    )
    if ('mfa_required' in res) {
      challenge.value = { mfaToken: res.mfa_token, methods: res.mfa_methods, username }
      return 'mfa'
    }
    challenge.value = undefined
    await accept(res)
    return 'done'
  }

  /**
   * A call with the pending second step's mfa_token. A dead one (expired, spent, out of
   * tries) means starting over from the password, whichever call found out: the challenge
   * goes, and the page shows the password form again.
   */
  async function withChallenge<T>(call: (mfaToken: string) => Promise<T>): Promise<T> {
    if (!challenge.value) throw new ApiError({ status: 401, code: 'invalid_token' })
    try {
      return await call(challenge.value.mfaToken)
    } catch (err) {
      if (err instanceof ApiError && err.code === 'invalid_token') {
        interruptedUsername.value = challenge.value?.username ?? ''
        challenge.value = undefined
      }
      throw err
    }
  }

  /** The second step's answer: a code, or a passkey's assertion. */
  async function finishSecondFactor(answer: Record<string, unknown>): Promise<void> {
    const tokens = await withChallenge((mfaToken) =>
      api.post<TokenResponse>(
        '/api/auth/login/verify',
        { mfa_token: mfaToken, ...answer },
        { auth: false },
      ),
    )
    challenge.value = undefined
    await accept(tokens)
  }

  async function verifySecondFactor(method: SecondFactor, code: string): Promise<void> {
    await finishSecondFactor({ method, code })
  }

  /** A passkey as the second step; false when the prompt was ended by another ceremony. */
  async function verifyWithPasskey(): Promise<boolean> {
    const options = await withChallenge((mfaToken) =>
      api.post<PublicKeyCredentialRequestOptionsJSON>(
        '/api/auth/login/webauthn/options',
        { mfa_token: mfaToken },
        { auth: false },
      ),
    )
    const response = await getPasskey(options)
    if (!response) return false
    await answerWithPasskey(() => finishSecondFactor({ method: 'webauthn', response }))
    return true
  }

  /**
   * Passwordless sign-in with a discoverable passkey. `autofill` waits for the person to pick
   * one from the username field's suggestions (conditional mediation); `wanted` is asked once
   * the options are in, so a prompt nobody wants any more (the page was left, another ceremony
   * began) does not start. False when no prompt ran or another ceremony ended it.
   */
  async function loginWithPasskey(
    opts: { autofill?: boolean; wanted?: () => boolean } = {},
  ): Promise<boolean> {
    const { challenge_id, options } = await api.post<{
      challenge_id: string
      options: PublicKeyCredentialRequestOptionsJSON
    }>('/api/auth/passkey/options', {}, { auth: false })
    if (opts.wanted && !opts.wanted()) return false
    const response = await getPasskey(options, opts.autofill)
    if (!response) return false
    const tokens = await answerWithPasskey(() =>
      api.post<TokenResponse>(
        '/api/auth/passkey/verify',
        { challenge_id, response },
        { auth: false },
      ),
    )
    challenge.value = undefined
    await accept(tokens)
    return true
  }

  async function sendLoginCode(channel: 'email' | 'sms'): Promise<void> {
    await withChallenge((mfaToken) =>
      api.post('/api/auth/login/send-code', { mfa_token: mfaToken, channel }, { auth: false }),
    )
  }

  async function logout(): Promise<void> {
    try {
      await api.post('/api/auth/logout', {}, { auth: false })
    } catch {
      // Already ended on the server: forgetting it here is all that is left.
    } finally {
      clear()
    }
  }

  async function reloadUser(): Promise<void> {
    user.value = await api.get<User>('/api/auth/me')
  }

  return {
    accessToken,
    user,
    amr,
    sessionId,
    permissions,
    challenge,
    interruptedUsername,
    signedIn,
    isAdmin,
    mfaVerified,
    can,
    refresh,
    restore,
    login,
    verifySecondFactor,
    verifyWithPasskey,
    loginWithPasskey,
    sendLoginCode,
    logout,
    reloadUser,
    onSessionLost,
    clear,
  }
})
