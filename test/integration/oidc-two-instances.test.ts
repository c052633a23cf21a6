import * as oidc from 'openid-client'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { testDatabases } from '../support/databases.js'
import { STRONG_PASSWORD } from '../support/http.js'
import {
  browser,
  gatehouseLogin,
  ISSUER,
  location,
  startOidcServer,
  type OidcServer,
} from '../support/oidc.js'
import { dropRedisPrefix, testRedisUrl, uniqueRedisPrefix } from '../support/redis.js'

/**
 * Issue 13: the provider on two instances that act as one (one database, one Redis, one
 * secret key and PUBLIC_URL). A sign-in that starts on one instance finishes on the other, a
 * code issued by one is redeemed on the other exactly once (also when both try at once), and
 * a Gatehouse logout on one ends the OIDC refresh token that the other would honour.
 */
const databases = (await testDatabases()).filter((d) => d.name !== 'sqlite')
const CALLBACK = 'http://app.test/callback'
const eventually = { timeout: 5_000, interval: 50 }

describe.each(databases)('the OpenID provider on two instances on $name', (database) => {
  let a: OidcServer
  let b: OidcServer
  let drop: () => Promise<void>
  const prefix = uniqueRedisPrefix()

  beforeAll(async () => {
    const fresh = await database.create()
    drop = fresh.drop
    const env = { REDIS_URL: testRedisUrl, REDIS_PREFIX: prefix }
    a = await startOidcServer(fresh.url, env)
    b = await startOidcServer(fresh.url, env)
  }, 60_000)
  afterAll(async () => {
    await a?.t.close()
    await b?.t.close()
    await dropRedisPrefix(prefix)
    await drop?.()
  })

  const configOn = (server: OidcServer, clientId: string) =>
    oidc.discovery(new URL(ISSUER), clientId, undefined, oidc.None(), server.clientOptions)

  /** Starts on A, signs in through B's interaction API, consents on A: a code comes back. */
  async function codeAcrossInstances(clientId: string, token: string) {
    const onA = await configOn(a, clientId)
    const verifier = oidc.randomPKCECodeVerifier()
    const state = oidc.randomState()
    const url = oidc.buildAuthorizationUrl(onA, {
      redirect_uri: CALLBACK,
      scope: 'openid profile offline_access',
      prompt: 'consent',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    })
    // One cookie jar, the load balancer sending each request to the instance it likes.
    let next: OidcServer = a
    const balanced = browser({ ...a, fetch: (input, init) => next.fetch(input, init) })
    let res = await balanced.go(url.href)
    for (let step = 0; step < 4 && !location(res).startsWith(CALLBACK); step++) {
      const uid = /^\/oidc-interaction\/([A-Za-z0-9_-]+)$/.exec(location(res))![1]!
      next = next === a ? b : a
      const view = (await (await balanced.go(`/api/oidc/interaction/${uid}`)).json()) as {
        prompt: { name: string }
      }
      next = next === a ? b : a
      const action = view.prompt.name === 'login' ? 'login' : 'consent'
      const answer = await balanced.go(`/api/oidc/interaction/${uid}/${action}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(action === 'consent' ? { allow: true } : {}),
      })
      expect(answer.status, action).toBe(200)
      next = next === a ? b : a
      res = await balanced.go(((await answer.json()) as { redirect_to: string }).redirect_to)
    }
    return { callback: new URL(location(res)), verifier, state }
  }

  it('a code issued by one instance is redeemed on the other, once, even when both try at once', async () => {
    await a.t.services.accounts.create({ username: 'two-a', password: STRONG_PASSWORD, roles: [] })
    const token = await gatehouseLogin(a, 'two-a')
    const { client } = await a.t.services.oidcClients.create(
      { name: 'Shared app', type: 'public', redirectUris: [CALLBACK] },
      { actorId: null },
    )
    const [onA, onB] = await Promise.all([
      configOn(a, client.clientId),
      configOn(b, client.clientId),
    ])

    const first = await codeAcrossInstances(client.clientId, token)
    const check = { pkceCodeVerifier: first.verifier, expectedState: first.state }
    const tokens = await oidc.authorizationCodeGrant(onB, first.callback, check)
    expect(tokens.claims()?.amr).toEqual(['pwd'])
    await expect(oidc.authorizationCodeGrant(onA, first.callback, check)).rejects.toMatchObject({
      error: 'invalid_grant',
    })

    const second = await codeAcrossInstances(client.clientId, token)
    const both = await Promise.allSettled(
      [onA, onB].map((config) =>
        oidc.authorizationCodeGrant(config, second.callback, {
          pkceCodeVerifier: second.verifier,
          expectedState: second.state,
        }),
      ),
    )
    expect(both.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected'])
  })

  it('a Gatehouse logout on one instance ends the OIDC refresh token on the other', async () => {
    await a.t.services.accounts.create({ username: 'two-b', password: STRONG_PASSWORD, roles: [] })
    const token = await gatehouseLogin(a, 'two-b')
    const { client } = await a.t.services.oidcClients.create(
      { name: 'Other app', type: 'public', redirectUris: [CALLBACK] },
      { actorId: null },
    )
    const onA = await configOn(a, client.clientId)
    const started = await codeAcrossInstances(client.clientId, token)
    const tokens = await oidc.authorizationCodeGrant(onA, started.callback, {
      pkceCodeVerifier: started.verifier,
      expectedState: started.state,
    })
    // Refreshing works on A: the grant is alive.
    const refreshed = await oidc.refreshTokenGrant(onA, tokens.refresh_token!)
    expect(refreshed.refresh_token).toBeTruthy()

    const logout = await b.fetch(`${ISSUER}/api/auth/logout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    })
    expect(logout.status).toBe(204)
    await vi.waitFor(async () => {
      await expect(oidc.refreshTokenGrant(onA, refreshed.refresh_token!)).rejects.toMatchObject({
        error: 'invalid_grant',
      })
    }, eventually)
  })
})
