import * as oidc from 'openid-client'
import { decodeProtectedHeader, type JSONWebKeySet } from 'jose'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { testDatabases } from '../support/databases.js'
import { STRONG_PASSWORD } from '../support/http.js'
import {
  authorizationUrl,
  browser,
  configFor,
  gatehouseLogin,
  ISSUER,
  oauthError,
  registerClient,
  serveOidc,
  signIn,
  type OidcServer,
} from '../support/oidc.js'
import { dropRedisPrefix, testRedisUrl, uniqueRedisPrefix } from '../support/redis.js'

/**
 * The OpenID provider on two instances behind one issuer, as behind a load balancer: one
 * PostgreSQL or MariaDB and one Redis, separate memory and clocks. What one instance starts
 * or ends, the other honours: codes, refresh tokens, Gatehouse sessions and key rotations.
 */
const databases = (await testDatabases()).filter((d) => d.name !== 'sqlite')

describe.each(databases)('the OpenID provider on two instances on $name', (database) => {
  let a: OidcServer
  let b: OidcServer
  let drop: () => Promise<void>
  const prefix = uniqueRedisPrefix()
  let n = 0

  beforeAll(async () => {
    const fresh = await database.create()
    drop = fresh.drop
    const env = { REDIS_URL: testRedisUrl, REDIS_PREFIX: prefix }
    // One after the other: the first one migrates the database and makes the keys.
    a = await serveOidc(fresh.url, env)
    b = await serveOidc(fresh.url, env)
  })
  afterAll(async () => {
    await a.t.close()
    await b.t.close()
    await dropRedisPrefix(prefix)
    await drop()
  })

  /**
   * A person signed in through both: the authorization starts at A, and each request after
   * it goes to the other instance, as a load balancer may send them, with one cookie jar.
   */
  async function signedInAtA() {
    const username = `two-instance-user-${++n}`
    const id = await a.t.services.accounts.create({
      username,
      password: STRONG_PASSWORD,
      roles: ['user'],
    })
    const token = await gatehouseLogin(a, username)
    const registered = await registerClient(a, { type: 'public' })
    const atA = await configFor(a, registered)
    const atB = await configFor(b, registered)
    const start = await authorizationUrl(atA)
    let turn = 0
    const balanced = browser({
      ...a,
      fetch: (input, init) => (turn++ % 2 ? b : a).fetch(input, init),
    })
    const callback = await signIn(balanced, start.url, token)
    return { id, token, atA, atB, start, callback }
  }

  const redeem = (config: oidc.Configuration, started: Awaited<ReturnType<typeof signedInAtA>>) =>
    oidc.authorizationCodeGrant(config, started.callback, {
      pkceCodeVerifier: started.start.verifier,
      expectedState: started.start.state,
      expectedNonce: started.start.nonce,
    })

  it('a code issued by one instance and redeemed at both at once gives tokens once', async () => {
    const started = await signedInAtA()
    const outcomes = await Promise.allSettled([
      redeem(started.atA, started),
      redeem(started.atB, started),
    ])
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1)
  })

  it('a code redeemed at the other instance works at both, and its replay revokes what it gave', async () => {
    const started = await signedInAtA()
    const { id, atA, atB } = started
    const tokens = await redeem(atB, started)
    expect(tokens.claims()!.sub).toBe(id)
    expect((await oidc.fetchUserInfo(atA, tokens.access_token, id)).sub).toBe(id)
    expect((await oidc.fetchUserInfo(atB, tokens.access_token, id)).sub).toBe(id)

    // RFC 6749 §4.1.2: a code used twice was intercepted; what it gave is revoked.
    expect(await oauthError(redeem(atA, started))).toBe('invalid_grant')
    expect(await oauthError(oidc.fetchUserInfo(atB, tokens.access_token, id))).toBe('invalid_token')
  })

  it('refresh tokens rotate across instances, and one reused at the other ends the grant', async () => {
    const started = await signedInAtA()
    const { atA, atB } = started
    const tokens = await redeem(atB, started)
    const next = await oidc.refreshTokenGrant(atA, tokens.refresh_token!)
    expect(await oauthError(oidc.refreshTokenGrant(atB, tokens.refresh_token!))).toBe(
      'invalid_grant',
    )
    expect(await oauthError(oidc.refreshTokenGrant(atA, next.refresh_token!))).toBe('invalid_grant')
  })

  it('a Gatehouse logout at one instance ends the OIDC refresh token and access token at the other', async () => {
    const started = await signedInAtA()
    const { id, token, atA, atB } = started
    const tokens = await redeem(atA, started)
    const logout = await a.fetch(`${ISSUER}/api/auth/logout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    })
    expect(logout.status).toBe(204)
    // SPEC: on every instance within 5 s. The wait ends as soon as B refuses.
    await vi.waitFor(
      async () => {
        expect(await oauthError(oidc.fetchUserInfo(atB, tokens.access_token, id))).toBe(
          'invalid_token',
        )
      },
      { timeout: 5_000, interval: 50 },
    )
    expect(await oauthError(oidc.refreshTokenGrant(atB, tokens.refresh_token!))).toBe(
      'invalid_grant',
    )
  })

  it('a key rotated at one instance signs ID tokens at the other once its key list reloads', async () => {
    const jwks = async (s: OidcServer) =>
      (await (await s.fetch(`${ISSUER}/.well-known/jwks.json`)).json()) as JSONWebKeySet
    const before = new Set((await jwks(a)).keys.map((k) => k.kid))
    // A rotation comes after the keys it replaces (newest signs): the clocks stand still.
    a.t.clock.advance('1m')
    await a.t.services.keyRing.rotate()
    const fresh = (await jwks(a)).keys.filter((k) => !before.has(k.kid))
    const newRsa = fresh.find((k) => k.alg === 'RS256')?.kid
    expect(newRsa).toBeTruthy()

    // B reloads its key list every 2 s of its own clock (which only moves when told).
    b.t.clock.advance('1m')
    expect((await jwks(b)).keys.map((k) => k.kid)).toContain(newRsa)
    const started = await signedInAtA()
    const tokens = await redeem(started.atB, started)
    expect(decodeProtectedHeader(tokens.id_token!).kid).toBe(newRsa)
  })
})
