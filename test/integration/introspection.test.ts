import { SignJWT, generateKeyPair } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { testDatabases } from '../support/databases.js'
import { useTestApp } from '../support/harness.js'
import { registerAndLogin } from '../support/http.js'
import { apiKey } from '../support/principals.js'

const databases = await testDatabases()

describe.each(databases)('token introspection on $name', (database) => {
  const { t, api } = useTestApp(database, { env: { PUBLIC_URL: 'https://auth.example.com' } })
  let key: string

  beforeAll(async () => {
    key = (await apiKey(t, ['introspect'], 'backend')).key
  })

  const introspect = (token: string, apiKeyValue = key) =>
    api.call('POST', '/api/oauth/introspect', {
      headers: { 'x-api-key': apiKeyValue },
      body: { token },
    })

  it('describes a live access token', async () => {
    const tokens = await registerAndLogin(api, 'intro-alice')
    const res = await introspect(tokens.access_token)
    expect(res.status).toBe(200)
    expect(res.headers['cache-control']).toBe('no-store')
    const now = Math.floor(t.clock.now().getTime() / 1000)
    expect(res.body).toEqual({
      active: true,
      sub: tokens.user.id,
      username: 'intro-alice',
      roles: ['user'],
      amr: ['pwd'],
      sid: expect.any(String),
      iat: now,
      exp: now + 600,
      iss: 'https://auth.example.com',
      aud: 'gatehouse',
      token_type: 'access_token',
    })
  })

  it('accepts an RFC 7662 form body', async () => {
    const tokens = await registerAndLogin(api, 'intro-form')
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/oauth/introspect',
      headers: { 'x-api-key': key, 'content-type': 'application/x-www-form-urlencoded' },
      payload: `token=${encodeURIComponent(tokens.access_token)}&token_type_hint=access_token`,
    })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ active: true, username: 'intro-form' })
  })

  it('is inactive at once after logout, and nothing more is said', async () => {
    const tokens = await registerAndLogin(api, 'intro-logout')
    expect((await introspect(tokens.access_token)).body.active).toBe(true)
    const out = await api.call('POST', '/api/auth/logout', { token: tokens.access_token })
    expect(out.status).toBe(204)
    const res = await introspect(tokens.access_token)
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ active: false })
  })

  it('is inactive for an expired token', async () => {
    const tokens = await registerAndLogin(api, 'intro-expired')
    t.clock.advance('601s')
    expect((await introspect(tokens.access_token)).body).toEqual({ active: false })
  })

  it('is inactive for forged, foreign, refresh and junk tokens', async () => {
    const tokens = await registerAndLogin(api, 'intro-forged')
    const [h, p] = tokens.access_token.split('.')
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString())
    const elevated = Buffer.from(JSON.stringify({ ...claims, roles: ['admin'] })).toString(
      'base64url',
    )
    const { privateKey } = await generateKeyPair('EdDSA')
    const foreign = await new SignJWT({ ...claims })
      .setProtectedHeader({
        alg: 'EdDSA',
        kid: JSON.parse(Buffer.from(h!, 'base64url').toString()).kid,
      })
      .sign(privateKey)
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.`
    for (const token of [
      `${h}.${elevated}.${tokens.access_token.split('.')[2]}`,
      foreign,
      none,
      tokens.refresh_token,
      'junk',
      '',
    ]) {
      const res = await introspect(token)
      expect(res.status).toBe(200)
      expect(res.body).toEqual({ active: false })
    }
  })

  it('refuses a missing token field with validation_error', async () => {
    const res = await api.call('POST', '/api/oauth/introspect', {
      headers: { 'x-api-key': key },
      body: {},
    })
    expect(res.status).toBe(400)
    expect(res.body.code).toBe('validation_error')
  })

  it('needs an API key with the introspect scope', async () => {
    const anonymous = await api.call('POST', '/api/oauth/introspect', { body: { token: 'x' } })
    expect(anonymous.status).toBe(401)
    expect(anonymous.body.code).toBe('unauthorized')
    const totpOnly = (await apiKey(t, ['totp'], 'backend')).key
    const wrong = await introspect('x', totpOnly)
    expect(wrong.status).toBe(403)
    expect(wrong.body.code).toBe('forbidden')
    const unknown = await introspect('x', `ghk_${'B'.repeat(43)}`)
    expect(unknown.status).toBe(401)
    expect(unknown.body.code).toBe('invalid_api_key')
    // A user's Bearer token is not an API key.
    const tokens = await registerAndLogin(api, 'intro-bearer')
    const bearer = await api.call('POST', '/api/oauth/introspect', {
      token: tokens.access_token,
      body: { token: tokens.access_token },
    })
    expect(bearer.status).toBe(401)
  })

  it('publishes RFC 8414 metadata derived from PUBLIC_URL', async () => {
    const res = await api.get('/.well-known/oauth-authorization-server')
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({
      issuer: 'https://auth.example.com',
      jwks_uri: 'https://auth.example.com/.well-known/jwks.json',
      token_endpoint: 'https://auth.example.com/oidc/token',
      introspection_endpoint: 'https://auth.example.com/api/oauth/introspect',
    })
  })
})
