import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  generateKeyPair,
  jwtVerify,
  SignJWT,
} from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { testDatabases } from '../support/databases.js'
import { startApp, useTestApp } from '../support/harness.js'
import { client, registerAndLogin, type Tokens } from '../support/http.js'

const databases = await testDatabases()

describe.each(databases)('access tokens on $name', (database) => {
  const { t, api } = useTestApp(database)
  let tokens: Tokens

  beforeAll(async () => {
    tokens = await registerAndLogin(api, 'token-user')
  })

  it('carries every claim of SPEC §4.3 and verifies against the published JWKS', async () => {
    const header = decodeProtectedHeader(tokens.access_token)
    expect(header.alg).toBe('EdDSA')
    expect(typeof header.kid).toBe('string')
    const claims = decodeJwt(tokens.access_token)
    expect(claims).toMatchObject({
      iss: 'http://localhost:3000',
      aud: 'gatehouse',
      sub: tokens.user.id,
      username: 'token-user',
      roles: ['user'],
      amr: ['pwd'],
    })
    expect(typeof claims.sid).toBe('string')
    expect(typeof claims.jti).toBe('string')
    expect(claims.exp! - claims.iat!).toBe(600)

    const jwks = await api.get<{ keys: Record<string, unknown>[] }>('/.well-known/jwks.json')
    expect(jwks.status).toBe(200)
    for (const key of jwks.body.keys) {
      expect(key).not.toHaveProperty('d') // never the private part
    }
    const { payload } = await jwtVerify(
      tokens.access_token,
      createLocalJWKSet(jwks.body as never),
      {
        issuer: 'http://localhost:3000',
        audience: 'gatehouse',
        currentDate: t.clock.now(),
      },
    )
    expect(payload.sub).toBe(tokens.user.id)
  })

  it('publishes discovery metadata derived from PUBLIC_URL', async () => {
    const res = await api.get('/.well-known/oauth-authorization-server')
    expect(res.body).toMatchObject({
      issuer: 'http://localhost:3000',
      jwks_uri: 'http://localhost:3000/.well-known/jwks.json',
      token_endpoint: 'http://localhost:3000/oidc/token',
      introspection_endpoint: 'http://localhost:3000/api/oauth/introspect',
    })
  })

  describe('forged and broken tokens are all 401', () => {
    const base64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
    const claimsNow = () => {
      const now = Math.floor(t.clock.now().getTime() / 1000)
      const c = decodeJwt(tokens.access_token)
      return { ...c, iat: now, exp: now + 600 }
    }

    it('alg: none', async () => {
      const forged = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(claimsNow())}.`
      const res = await api.get('/api/auth/me', forged)
      expect(res.status).toBe(401)
      expect(res.body.code).toBe('invalid_token')
      expect(res.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/)
    })

    it('HS256 signed with the public key as the HMAC secret', async () => {
      const jwks = await api.get<{ keys: { x: string; kid: string }[] }>('/.well-known/jwks.json')
      const publicKey = jwks.body.keys[0]!
      const forged = await new SignJWT(claimsNow())
        .setProtectedHeader({ alg: 'HS256', kid: publicKey.kid })
        .sign(Buffer.from(publicKey.x, 'base64url'))
      const res = await api.get('/api/auth/me', forged)
      expect(res.status).toBe(401)
      expect(res.body.code).toBe('invalid_token')
    })

    it('an unknown kid, and a key we never published', async () => {
      const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' })
      const forged = await new SignJWT(claimsNow())
        .setProtectedHeader({ alg: 'EdDSA', kid: 'attacker' })
        .sign(privateKey)
      expect((await api.get('/api/auth/me', forged)).status).toBe(401)
      const header = decodeProtectedHeader(tokens.access_token)
      const sameKid = await new SignJWT(claimsNow())
        .setProtectedHeader({ alg: 'EdDSA', kid: header.kid! })
        .sign(privateKey)
      const res = await api.get('/api/auth/me', sameKid)
      expect(res.status).toBe(401)
      expect(res.body.code).toBe('invalid_token')
    })

    it('a tampered payload or signature', async () => {
      const [h, p, s] = tokens.access_token.split('.')
      const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>
      const elevated = `${h}.${base64url({ ...claims, roles: ['admin'] })}.${s}`
      expect((await api.get('/api/auth/me', elevated)).status).toBe(401)
      const flipped = `${h}.${p}.${s!.slice(0, -2)}${s!.endsWith('AA') ? 'BB' : 'AA'}`
      expect((await api.get('/api/auth/me', flipped)).status).toBe(401)
    })

    it('the wrong issuer or audience, even when correctly signed', async () => {
      const other = await startApp(t.config.databaseUrl, {
        env: { PUBLIC_URL: 'https://elsewhere.example' },
        clock: t.clock,
      })
      try {
        const otherTokens = await client(other.app).post<Tokens>('/api/auth/login', {
          username: 'token-user',
          password: 'correct horse battery staple',
        })
        expect(otherTokens.status).toBe(200)
        const res = await api.get('/api/auth/me', otherTokens.body.access_token)
        expect(res.status).toBe(401)
        expect(res.body.code).toBe('invalid_token')
      } finally {
        await other.close()
      }
      const audienceApp = await startApp(t.config.databaseUrl, {
        env: { JWT_AUDIENCE: 'another-api' },
        clock: t.clock,
      })
      try {
        expect(
          (await client(audienceApp.app).get('/api/auth/me', tokens.access_token)).status,
        ).toBe(401)
      } finally {
        await audienceApp.close()
      }
    })

    it('garbage in the Authorization header', async () => {
      for (const value of [
        'Bearer',
        'Bearer not.a.jwt',
        'Bearer ' + 'a'.repeat(5000),
        'Basic dXNlcjpwdw==',
      ]) {
        const res = await api.call('GET', '/api/auth/me', { headers: { authorization: value } })
        expect(res.status).toBe(401)
        expect(res.headers['content-type']).toContain('application/problem+json')
      }
    })
  })

  it('expires exactly at exp with no leeway (token_expired), using the controllable clock', async () => {
    const fresh = await api.post<Tokens>('/api/auth/login', {
      username: 'token-user',
      password: 'correct horse battery staple',
    })
    const token = fresh.body.access_token
    expect((await api.get('/api/auth/me', token)).status).toBe(200) // now cached as verified
    t.clock.advance('599s')
    expect((await api.get('/api/auth/me', token)).status).toBe(200)
    t.clock.advance('1s')
    const expired = await api.get('/api/auth/me', token)
    expect(expired.status).toBe(401)
    expect(expired.body.code).toBe('token_expired')
    expect(expired.headers['www-authenticate']).toContain('error="invalid_token"')
  })

  it('rotates signing keys: new tokens use the new key, old tokens stay valid until they expire', async () => {
    const before = await api.post<Tokens>('/api/auth/login', {
      username: 'token-user',
      password: 'correct horse battery staple',
    })
    const oldKid = decodeProtectedHeader(before.body.access_token).kid
    const newKid = await t.services.keyRing.rotate()
    const after = await api.post<Tokens>('/api/auth/login', {
      username: 'token-user',
      password: 'correct horse battery staple',
    })
    expect(decodeProtectedHeader(after.body.access_token).kid).toBe(newKid)
    const kids = (
      await api.get<{ keys: { kid: string }[] }>('/.well-known/jwks.json')
    ).body.keys.map((k) => k.kid)
    expect(kids).toEqual(expect.arrayContaining([oldKid, newKid]))
    expect((await api.get('/api/auth/me', before.body.access_token)).status).toBe(200)
    // Once every token the old key signed has expired, it leaves the JWKS.
    t.clock.advance('11m')
    const later = (
      await api.get<{ keys: { kid: string }[] }>('/.well-known/jwks.json')
    ).body.keys.map((k) => k.kid)
    expect(later).toContain(newKid)
    expect(later).not.toContain(oldKid)
  })

  it('keeps private signing keys encrypted at rest', async () => {
    const rows = await t.services.db.selectFrom('signing_keys').selectAll().execute()
    for (const row of rows) {
      expect(row.private_key_sealed).toMatch(/^v1\./)
      expect(row.private_key_sealed).not.toContain('PRIVATE KEY')
    }
  })

  it('signs with a key another instance rotated in, after at most one reload', async () => {
    const other = await startApp(t.config.databaseUrl, { clock: t.clock })
    try {
      const kid = await other.services.keyRing.rotate()
      t.clock.advance('3s') // past the 2 s reload interval
      const res = await api.post<Tokens>('/api/auth/login', {
        username: 'token-user',
        password: 'correct horse battery staple',
      })
      expect(decodeProtectedHeader(res.body.access_token).kid).toBe(kid)
      const jwks = (await api.get<{ keys: { kid: string }[] }>('/.well-known/jwks.json')).body.keys
      expect(jwks.some((k) => k.kid === kid)).toBe(true)
    } finally {
      await other.close()
    }
  })
})
