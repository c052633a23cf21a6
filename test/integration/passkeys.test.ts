import { describe, expect, it } from 'vitest'
import { SoftAuthenticator, type Algorithm } from '../support/authenticator.js'
import { testDatabases } from '../support/databases.js'
import { useTestApp } from '../support/harness.js'
import { registerAndLogin, STRONG_PASSWORD } from '../support/http.js'
import { claimsOf, passkeyClient } from '../support/passkeys.js'
import { adminWithMfa } from '../support/principals.js'
import { appCode } from '../support/totp.js'

const databases = await testDatabases()

/** SPEC §4.9: passkeys registered, listed, used as a second factor and alone, and removed. */
describe.each(databases)('passkeys on $name', (database) => {
  const { t, api } = useTestApp(database)
  const pk = passkeyClient(api)

  const auditRows = (event: string, userId: string) =>
    t.services.db
      .selectFrom('audit_events')
      .selectAll()
      .where('event', '=', event)
      .where('user_id', '=', userId)
      .execute()

  /**
   * Merge of passkeys onto issue 9: `no-store` was set by the handler only on a passkey
   * login's success, so its refusals and the challenge-bearing options routes went out
   * without it; every route now takes it from the one `noStore` hook.
   */
  it('answers the passkey options and verify routes with no-store, refusals too', async () => {
    const tokens = await registerAndLogin(api, 'no-store-pk')
    const authenticator = new SoftAuthenticator('ES256')
    const register = await pk.registrationOptions(tokens.access_token)
    expect(register.headers['cache-control']).toBe('no-store')
    await pk.register(tokens.access_token, authenticator)
    const step = await pk.passwordStep('no-store-pk')
    const mfaOptions = await api.post('/api/auth/login/webauthn/options', {
      mfa_token: step.mfa_token,
    })
    expect(mfaOptions.headers['cache-control']).toBe('no-store')
    const passkeyOptions = await api.post<Awaited<ReturnType<typeof pk.passkeyOptions>>>(
      '/api/auth/passkey/options',
      {},
    )
    expect(passkeyOptions.headers['cache-control']).toBe('no-store')
    const good = authenticator.assert(passkeyOptions.body.options)
    const junk = Buffer.from('junk').toString('base64url')
    const refused = await pk.verifyPasskey(passkeyOptions.body.challenge_id, {
      ...good,
      response: { ...good.response, signature: junk },
    })
    expect(refused.status).toBe(401)
    expect(refused.headers['cache-control']).toBe('no-store')
  })

  it('offers registration options as SPEC §4.9 asks', async () => {
    const tokens = await registerAndLogin(api, 'opt-reader')
    const res = await pk.registrationOptions(tokens.access_token)
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({
      rp: { name: 'Gatehouse', id: 'localhost' },
      user: { name: 'opt-reader', displayName: 'opt-reader' },
      pubKeyCredParams: [
        { alg: -8, type: 'public-key' },
        { alg: -7, type: 'public-key' },
        { alg: -257, type: 'public-key' },
      ],
      timeout: 300_000,
      attestation: 'none',
      excludeCredentials: [],
      authenticatorSelection: {
        residentKey: 'preferred',
        requireResidentKey: false,
        userVerification: 'preferred',
      },
    })
    expect(res.body.challenge).toMatch(/^[A-Za-z0-9_-]{43}$/)
    // The user handle is the opaque user id, not the username (WebAuthn §14.6.1).
    expect(Buffer.from(res.body.user.id, 'base64url').toString()).toBe(tokens.user.id)
  })

  it.each<Algorithm>(['ES256', 'EdDSA', 'RS256'])(
    'registers a %s passkey and signs in with it as the second factor',
    async (alg) => {
      const username = `second-${alg.toLowerCase()}`
      const tokens = await registerAndLogin(api, username)
      const authenticator = new SoftAuthenticator(alg)
      const passkey = await pk.register(tokens.access_token, authenticator, { name: 'Laptop' })
      expect(passkey).toEqual({
        id: expect.any(String),
        name: 'Laptop',
        created_at: t.clock.now().toISOString(),
        last_used_at: null,
      })
      const me = await api.get('/api/auth/me', tokens.access_token)
      expect(me.body.mfa).toMatchObject({ webauthn: 1, totp: false })
      const [registered] = await auditRows('passkey_registered', tokens.user.id)
      expect(JSON.parse(registered!.details!)).toEqual({ passkey_id: passkey.id, name: 'Laptop' })

      const step = await pk.passwordStep(username)
      expect(step.mfa_methods).toEqual(['webauthn'])
      const options = await pk.mfaOptions(step.mfa_token)
      expect(options).toMatchObject({
        rpId: 'localhost',
        userVerification: 'preferred',
        timeout: 300_000,
        allowCredentials: [
          {
            id: authenticator.credentials[0]!.id.toString('base64url'),
            type: 'public-key',
            transports: ['internal'],
          },
        ],
      })
      t.clock.advance('1m')
      const verified = await pk.verifyMfa(step.mfa_token, authenticator.assert(options))
      expect(verified.status).toBe(200)
      expect(verified.headers['cache-control']).toBe('no-store')
      expect(claimsOf(verified.body.access_token).amr).toEqual(['pwd', 'mfa', 'hwk'])
      expect(verified.body.user.username).toBe(username)

      const list = await api.get('/api/auth/webauthn/credentials', verified.body.access_token)
      expect(list.body).toEqual({
        credentials: [{ ...passkey, last_used_at: t.clock.now().toISOString() }],
      })
      const succeeded = await auditRows('mfa_succeeded', tokens.user.id)
      expect(JSON.parse(succeeded.at(-1)!.details!)).toEqual({ method: 'webauthn' })
    },
  )

  it('signs in passwordless with amr hwk, user, mfa', async () => {
    const tokens = await registerAndLogin(api, 'no-password')
    const authenticator = new SoftAuthenticator('EdDSA')
    await pk.register(tokens.access_token, authenticator)
    const { challenge_id, options } = await pk.passkeyOptions()
    expect(challenge_id).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(options).toEqual({
      rpId: 'localhost',
      challenge: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      timeout: 300_000,
      userVerification: 'required',
    })
    const res = await pk.verifyPasskey(challenge_id, authenticator.assert(options))
    expect(res.status).toBe(200)
    expect(res.headers['cache-control']).toBe('no-store')
    expect(claimsOf(res.body.access_token).amr).toEqual(['hwk', 'user', 'mfa'])
    expect(res.body).toMatchObject({ token_type: 'Bearer', user: { username: 'no-password' } })
    const [login] = (await auditRows('login_succeeded', tokens.user.id)).slice(-1)
    expect(JSON.parse(login!.details!).amr).toEqual(['hwk', 'user', 'mfa'])
    // The session is a real one: refresh keeps its amr.
    const refreshed = await api.post<{ access_token: string }>('/api/auth/refresh', {
      refresh_token: res.body.refresh_token,
    })
    expect(claimsOf(refreshed.body.access_token).amr).toEqual(['hwk', 'user', 'mfa'])
  })

  it('accepts authenticators whose counter stays 0', async () => {
    const tokens = await registerAndLogin(api, 'no-counter')
    const authenticator = new SoftAuthenticator('ES256', 'http://localhost:3000', false)
    await pk.register(tokens.access_token, authenticator)
    for (let i = 0; i < 3; i++) await pk.loginPasswordless(authenticator)
    await pk.loginWithSecondFactor('no-counter', authenticator)
  })

  it('names passkeys by default, excludes registered ones, and counts them in me', async () => {
    const tokens = await registerAndLogin(api, 'collector')
    const first = new SoftAuthenticator('ES256')
    const a = await pk.register(tokens.access_token, first)
    expect(a.name).toBe('Passkey 1')
    // A second passkey is a new factor: the password-only token no longer suffices.
    const refused = await pk.registrationOptions(tokens.access_token)
    expect(refused.status).toBe(403)
    expect(refused.body.code).toBe('mfa_required')

    const mfa = await pk.loginWithSecondFactor('collector', first)
    const options = await pk.registrationOptions(mfa.access_token)
    expect(options.body.excludeCredentials).toEqual([
      {
        id: first.credentials[0]!.id.toString('base64url'),
        type: 'public-key',
        transports: ['internal'],
      },
    ])
    expect(() => first.register(options.body)).toThrow(/InvalidStateError/)
    t.clock.advance('1s') // the list is in order of creation
    const b = await pk.register(mfa.access_token, new SoftAuthenticator('EdDSA'), {
      name: '  Phone  ',
    })
    expect(b.name).toBe('Phone')
    const me = await api.get('/api/auth/me', mfa.access_token)
    expect(me.body.mfa).toMatchObject({ webauthn: 2 })
    const list = await api.get<{ credentials: { id: string; name: string }[] }>(
      '/api/auth/webauthn/credentials',
      mfa.access_token,
    )
    expect(list.body.credentials.map((c) => [c.id, c.name])).toEqual([
      [a.id, 'Passkey 1'],
      [b.id, 'Phone'],
    ])
  })

  it('needs an MFA token to add a passkey next to TOTP (SPEC §4.2)', async () => {
    const tokens = await registerAndLogin(api, 'totp-first')
    const setup = await api.post<{ secret: string }>(
      '/api/auth/2fa/totp/setup',
      undefined,
      tokens.access_token,
    )
    const enable = await api.post(
      '/api/auth/2fa/totp/enable',
      { code: appCode(setup.body.secret, t.clock) },
      tokens.access_token,
    )
    expect(enable.status).toBe(200)
    const options = await pk.registrationOptions(tokens.access_token)
    expect(options.status).toBe(403)
    expect(options.body).toMatchObject({ code: 'mfa_required', status: 403 })

    // Options fetched with an MFA token do not let a password-only token finish the job.
    t.clock.advance('30s')
    const step = await pk.passwordStep('totp-first')
    const mfa = await api.post<{ access_token: string }>('/api/auth/login/verify', {
      mfa_token: step.mfa_token,
      code: appCode(setup.body.secret, t.clock),
    })
    const good = await pk.registrationOptions(mfa.body.access_token)
    expect(good.status).toBe(200)
    const response = new SoftAuthenticator().register(good.body)
    const planted = await api.post(
      '/api/auth/webauthn/register/verify',
      { response },
      tokens.access_token,
    )
    expect(planted.status).toBe(403)
    expect(planted.body.code).toBe('mfa_required')
    const ok = await api.post(
      '/api/auth/webauthn/register/verify',
      { response },
      mfa.body.access_token,
    )
    expect(ok.status).toBe(201)
    const again = await pk.passwordStep('totp-first')
    expect(again.mfa_methods).toEqual(['totp', 'webauthn', 'backup_code'])
  })

  it('renames a passkey, only the owner’s, with a sensible name', async () => {
    const tokens = await registerAndLogin(api, 'renamer')
    const passkey = await pk.register(tokens.access_token, new SoftAuthenticator())
    const patch = (id: string, body: unknown, token = tokens.access_token) =>
      api.call('PATCH', `/api/auth/webauthn/credentials/${id}`, { body, token })
    const renamed = await patch(passkey.id, { name: 'YubiKey 5' })
    expect(renamed.status).toBe(200)
    expect(renamed.body).toEqual({ ...passkey, name: 'YubiKey 5' })
    for (const name of ['', '   ', 'x'.repeat(65), 'line\nbreak', 'lone \ud800']) {
      const bad = await patch(passkey.id, { name })
      expect(bad.status, name).toBe(400)
      expect(bad.body.code).toBe('validation_error')
      expect(bad.body.detail).toContain('name')
    }
    expect((await patch(passkey.id, {})).body.code).toBe('validation_error')
    const other = await registerAndLogin(api, 'not-the-renamer')
    const foreign = await patch(passkey.id, { name: 'mine now' }, other.access_token)
    expect(foreign.status).toBe(404)
    expect(foreign.body.code).toBe('not_found')
    expect((await patch('no-such-id', { name: 'x' })).status).toBe(404)
    const list = await api.get<{ credentials: { name: string }[] }>(
      '/api/auth/webauthn/credentials',
      tokens.access_token,
    )
    expect(list.body.credentials.map((c) => c.name)).toEqual(['YubiKey 5'])
  })

  it('removes a passkey with an MFA token; then it no longer signs anyone in', async () => {
    const tokens = await registerAndLogin(api, 'remover')
    const authenticator = new SoftAuthenticator('ES256')
    const passkey = await pk.register(tokens.access_token, authenticator)
    const url = `/api/auth/webauthn/credentials/${passkey.id}`

    const plain = await api.delete(url, tokens.access_token)
    expect(plain.status).toBe(403)
    expect(plain.body.code).toBe('mfa_required')

    const mfa = await pk.loginWithSecondFactor('remover', authenticator)
    const other = await registerAndLogin(api, 'not-the-remover')
    const otherMfa = await t.services.sessions.start({
      userId: other.user.id,
      amr: ['pwd', 'mfa', 'otp'],
      context: { ip: null, userAgent: null },
    })
    expect((await api.delete(url, otherMfa.accessToken)).status).toBe(404)

    expect((await api.delete(url, mfa.access_token)).status).toBe(204)
    expect((await api.delete(url, mfa.access_token)).status).toBe(404)
    const [removed] = await auditRows('passkey_removed', tokens.user.id)
    expect(JSON.parse(removed!.details!)).toEqual({ passkey_id: passkey.id })
    const me = await api.get('/api/auth/me', mfa.access_token)
    expect(me.body.mfa).toMatchObject({ webauthn: 0 })

    const { challenge_id, options } = await pk.passkeyOptions()
    const res = await pk.verifyPasskey(challenge_id, authenticator.assert(options))
    expect(res.status).toBe(401)
    expect(res.body).toMatchObject({ code: 'invalid_code' })
    // With no factor left, the password alone signs in again.
    const login = await api.post('/api/auth/login', {
      username: 'remover',
      password: STRONG_PASSWORD,
    })
    expect(login.body).toHaveProperty('access_token')
  })

  it('2fa/disable removes passkeys', async () => {
    const tokens = await registerAndLogin(api, 'disabler')
    const authenticator = new SoftAuthenticator('EdDSA')
    await pk.register(tokens.access_token, authenticator)
    // No TOTP or backup codes to give: the token must carry mfa, as a passkey login's does.
    const plain = await api.post(
      '/api/auth/2fa/disable',
      { password: STRONG_PASSWORD },
      tokens.access_token,
    )
    expect(plain.status).toBe(403)
    expect(plain.body.code).toBe('mfa_required')
    const signedIn = await pk.loginPasswordless(authenticator)
    const off = await api.post(
      '/api/auth/2fa/disable',
      { password: STRONG_PASSWORD },
      signedIn.access_token,
    )
    expect(off.status).toBe(204)
    const me = await api.get('/api/auth/me', signedIn.access_token)
    expect(me.body.mfa).toMatchObject({ webauthn: 0 })
    const list = await api.get('/api/auth/webauthn/credentials', signedIn.access_token)
    expect(list.body).toEqual({ credentials: [] })
    const [removed] = await auditRows('passkey_removed', tokens.user.id)
    expect(JSON.parse(removed!.details!)).toEqual({ count: 1, all: true })
  })

  it('admin reset-mfa removes passkeys, and admin lists count them', async () => {
    const admin = await adminWithMfa(t, 'passkey-admin')
    const tokens = await registerAndLogin(api, 'reset-me')
    await pk.register(tokens.access_token, new SoftAuthenticator())
    const listed = await api.get<{ items: { username: string; mfa: { webauthn: number } }[] }>(
      '/api/admin/users?q=reset-me',
      admin.token,
    )
    expect(listed.body.items[0]!.mfa.webauthn).toBe(1)
    const one = await api.get(`/api/admin/users/${tokens.user.id}`, admin.token)
    expect(one.body.mfa).toMatchObject({ webauthn: 1 })
    const reset = await api.post(
      `/api/admin/users/${tokens.user.id}/reset-mfa`,
      undefined,
      admin.token,
    )
    expect(reset.status).toBe(204)
    const after = await api.get(`/api/admin/users/${tokens.user.id}`, admin.token)
    expect(after.body.mfa).toMatchObject({ webauthn: 0 })
  })

  it('documents every passkey route in the OpenAPI document', async () => {
    const doc = await api.get<{ paths: Record<string, Record<string, unknown>> }>('/openapi.json')
    const routes: [string, string][] = [
      ['/api/auth/webauthn/register/options', 'post'],
      ['/api/auth/webauthn/register/verify', 'post'],
      ['/api/auth/webauthn/credentials', 'get'],
      ['/api/auth/webauthn/credentials/{id}', 'patch'],
      ['/api/auth/webauthn/credentials/{id}', 'delete'],
      ['/api/auth/login/webauthn/options', 'post'],
      ['/api/auth/passkey/options', 'post'],
      ['/api/auth/passkey/verify', 'post'],
      ['/api/auth/login/verify', 'post'],
    ]
    for (const [path, method] of routes) {
      const op = doc.body.paths[path]?.[method] as { responses: Record<string, unknown> }
      expect(op, `${method} ${path}`).toBeDefined()
      expect(Object.keys(op.responses).length).toBeGreaterThan(1)
    }
  })
})
