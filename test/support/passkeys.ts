import { expect } from 'vitest'
import type { CreationOptions, RequestOptions, SoftAuthenticator } from './authenticator.js'
import type { Ceremony } from './authenticator.js'
import { STRONG_PASSWORD, type Client, type Tokens } from './http.js'

export interface MfaChallenge {
  mfa_required: true
  mfa_token: string
  mfa_methods: string[]
  expires_in: number
}

export function claimsOf(accessToken: string): { amr: string[]; sub: string } {
  return JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString('utf8'))
}

/** The passkey API as a browser app drives it, over app.inject. */
export function passkeyClient(api: Client) {
  return {
    registrationOptions: (token: string) =>
      api.post<CreationOptions & Record<string, unknown>>(
        '/api/auth/webauthn/register/options',
        undefined,
        token,
      ),

    /** options → authenticator → verify; expects 201 and returns the new passkey. */
    async register(
      token: string,
      authenticator: SoftAuthenticator,
      opts: { name?: string; ceremony?: Ceremony } = {},
    ) {
      const options = await api.post<CreationOptions>(
        '/api/auth/webauthn/register/options',
        undefined,
        token,
      )
      expect(options.status).toBe(200)
      const response = authenticator.register(options.body, opts.ceremony)
      const res = await api.post<{ id: string; name: string; created_at: string }>(
        '/api/auth/webauthn/register/verify',
        { response, ...(opts.name === undefined ? {} : { name: opts.name }) },
        token,
      )
      expect(res.status, JSON.stringify(res.body)).toBe(201)
      return res.body
    },

    async passwordStep(username: string): Promise<MfaChallenge> {
      const res = await api.post<MfaChallenge>('/api/auth/login', {
        username,
        password: STRONG_PASSWORD,
      })
      expect(res.status).toBe(200)
      expect(res.body.mfa_required).toBe(true)
      return res.body
    },

    async mfaOptions(mfaToken: string): Promise<RequestOptions & Record<string, unknown>> {
      const res = await api.post<RequestOptions & Record<string, unknown>>(
        '/api/auth/login/webauthn/options',
        { mfa_token: mfaToken },
      )
      expect(res.status, JSON.stringify(res.body)).toBe(200)
      return res.body
    },

    verifyMfa: (mfaToken: string, response: unknown) =>
      api.post<Tokens>('/api/auth/login/verify', {
        mfa_token: mfaToken,
        method: 'webauthn',
        response,
      }),

    async passkeyOptions(): Promise<{
      challenge_id: string
      options: RequestOptions & Record<string, unknown>
    }> {
      const res = await api.post<{
        challenge_id: string
        options: RequestOptions & Record<string, unknown>
      }>('/api/auth/passkey/options', {})
      expect(res.status).toBe(200)
      return res.body
    },

    verifyPasskey: (challengeId: string, response: unknown) =>
      api.post<Tokens>('/api/auth/passkey/verify', { challenge_id: challengeId, response }),

    /** Password, then this authenticator as the second factor: an MFA access token. */
    async loginWithSecondFactor(username: string, authenticator: SoftAuthenticator) {
      const step = await this.passwordStep(username)
      const options = await this.mfaOptions(step.mfa_token)
      const res = await this.verifyMfa(step.mfa_token, authenticator.assert(options))
      expect(res.status, JSON.stringify(res.body)).toBe(200)
      return res.body
    },

    /** A passwordless sign-in with this authenticator. */
    async loginPasswordless(authenticator: SoftAuthenticator) {
      const { challenge_id, options } = await this.passkeyOptions()
      const res = await this.verifyPasskey(challenge_id, authenticator.assert(options))
      expect(res.status, JSON.stringify(res.body)).toBe(200)
      return res.body
    },
  }
}
