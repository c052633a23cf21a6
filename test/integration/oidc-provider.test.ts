import * as oidc from 'openid-client'
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose'
import { describe, expect, it } from 'vitest'
import { testDatabases } from '../support/databases.js'
import {
  API,
  APP,
  authorizationUrl,
  browser,
  type Browser,
  CALLBACK,
  configFor,
  ISSUER,
  location,
  oauthError,
  redeem,
  registerClient,
  signIn,
  useOidcServer,
  userMaker,
} from '../support/oidc.js'
import { adminWithMfa, mfaToken } from '../support/principals.js'
import { clientOf } from '../support/http.js'

const databases = await testDatabases()
describe.each(databases)('OpenID provider on $name', (database) => {
  const srv = useOidcServer(database)
  const newUser = userMaker(srv, 'oidc-user')

  it('discovery names the issuer, code flow with S256 only, and the one JWKS', async () => {
    const res = await srv.server.fetch(`${ISSUER}/.well-known/openid-configuration`)
    expect(res.status).toBe(200)
    const doc = (await res.json()) as Record<string, unknown>
    expect(doc.issuer).toBe(ISSUER)
    expect(doc.authorization_endpoint).toBe(`${ISSUER}/oidc/auth`)
    expect(doc.jwks_uri).toBe(`${ISSUER}/.well-known/jwks.json`)
    expect(doc.response_types_supported).toEqual(['code'])
    expect(doc.response_modes_supported).toEqual(['query'])
    expect(doc.code_challenge_methods_supported).toEqual(['S256'])
    expect(doc.grant_types_supported).not.toContain('password')
    expect(doc.grant_types_supported).not.toContain('implicit')
    expect(doc.end_session_endpoint).toBe(`${ISSUER}/oidc/session/end`)
    expect(doc.revocation_endpoint).toBe(`${ISSUER}/oidc/token/revocation`)
    expect(new Set(doc.id_token_signing_alg_values_supported as string[])).toEqual(
      new Set(['RS256', 'EdDSA']),
    )
    const jwks = (await (
      await srv.server.fetch(`${ISSUER}/.well-known/jwks.json`)
    ).json()) as JSONWebKeySet
    expect(new Set(jwks.keys.map((k) => k.alg))).toEqual(new Set(['EdDSA', 'RS256']))
  })

  it('a public client signs a person in with code + PKCE; ID token and userinfo follow the scopes', async () => {
    const user = await newUser('person@example.test')
    const registered = await registerClient(srv.server, { type: 'public' })
    const config = await configFor(srv.server, registered)
    const start = await authorizationUrl(config)
    const callback = await signIn(browser(srv.server), start.url, user.token)
    const tokens = await redeem(config, callback, start)
    const claims = tokens.claims()!
    expect(claims.sub).toBe(user.id)
    expect(claims.iss).toBe(ISSUER)
    expect(claims.amr).toEqual(['pwd'])
    expect(claims.acr).toBe('pwd')
    expect(decodeProtectedHeader(tokens.id_token!).alg).toBe('RS256')
    expect(tokens.refresh_token).toBeTruthy()
    const info = await oidc.fetchUserInfo(config, tokens.access_token, user.id)
    expect(info).toMatchObject({
      sub: user.id,
      preferred_username: user.username,
      email: 'person@example.test',
      email_verified: false,
      roles: ['user'],
    })
    expect(info.phone_number).toBeUndefined()
  })

  const signedIn = async (
    opts: { type?: 'public' | 'confidential'; client?: Record<string, unknown> } = {},
  ) => {
    const user = await newUser()
    const registered = await registerClient(srv.server, {
      type: opts.type ?? 'public',
      ...opts.client,
    })
    const config = await configFor(srv.server, registered)
    const start = await authorizationUrl(config)
    const b = browser(srv.server)
    const callback = await signIn(b, start.url, user.token)
    const tokens = await redeem(config, callback, start)
    return { user, registered, config, tokens, b, start, callback }
  }

  it('a confidential client authenticates with its secret (stored hashed) and gets EdDSA ID tokens on request', async () => {
    const user = await newUser()
    const registered = await registerClient(srv.server, {
      type: 'confidential',
      id_token_signed_response_alg: 'EdDSA',
    })
    expect(registered.client_secret).toMatch(/^ghcs_/)
    const row = await srv.server.t.services.db
      .selectFrom('oidc_clients')
      .selectAll()
      .where('id', '=', registered.client_id)
      .executeTakeFirstOrThrow()
    expect(JSON.stringify(row)).not.toContain(registered.client_secret)
    const config = await configFor(srv.server, registered, {
      id_token_signed_response_alg: 'EdDSA',
    })
    const start = await authorizationUrl(config)
    const callback = await signIn(browser(srv.server), start.url, user.token)
    const tokens = await redeem(config, callback, start)
    expect(decodeProtectedHeader(tokens.id_token!).alg).toBe('EdDSA')
    expect(tokens.claims()!.sub).toBe(user.id)

    const wrongSecret = await configFor(srv.server, { ...registered, client_secret: 'ghcs_wrong' })
    expect(await oauthError(oidc.refreshTokenGrant(wrongSecret, tokens.refresh_token!))).toBe(
      'invalid_client',
    )
  })

  it('rotates refresh tokens, and a reused one ends the grant', async () => {
    const { config, tokens } = await signedIn()
    const first = tokens.refresh_token!
    const next = await oidc.refreshTokenGrant(config, first)
    expect(next.refresh_token).toBeTruthy()
    expect(next.refresh_token).not.toBe(first)
    expect(await oauthError(oidc.refreshTokenGrant(config, first))).toBe('invalid_grant')
    // Reuse means the token leaked: its successor dies with it.
    expect(await oauthError(oidc.refreshTokenGrant(config, next.refresh_token!))).toBe(
      'invalid_grant',
    )
  })

  it('a client cannot revoke another client’s token (RFC 7009 §2.1)', async () => {
    const { config, tokens, user } = await signedIn()
    const confidential = await configFor(
      srv.server,
      await registerClient(srv.server, { type: 'confidential' }),
    )
    expect(await oauthError(oidc.tokenRevocation(confidential, tokens.access_token))).toBe(
      'invalid_request',
    )
    // A public client proves nothing about itself: it is told nothing, and nothing happens.
    const other = await configFor(srv.server, await registerClient(srv.server, {}))
    await oidc.tokenRevocation(other, tokens.refresh_token!)
    expect((await oidc.fetchUserInfo(config, tokens.access_token, user.id)).sub).toBe(user.id)
    expect((await oidc.refreshTokenGrant(config, tokens.refresh_token!)).refresh_token).toBeTruthy()
    // …and the audit log does not say otherwise.
    const revoked = await srv.server.t.services.db
      .selectFrom('audit_events')
      .select('id')
      .where('user_id', '=', user.id)
      .where('event', '=', 'oidc_token_revoked')
      .execute()
    expect(revoked).toEqual([])
  })

  it('revokes tokens (RFC 7009) and audits it', async () => {
    const { config, tokens, user } = await signedIn()
    await oidc.tokenRevocation(config, tokens.refresh_token!)
    expect(await oauthError(oidc.refreshTokenGrant(config, tokens.refresh_token!))).toBe(
      'invalid_grant',
    )
    const events = await srv.server.t.services.db
      .selectFrom('audit_events')
      .select(['event', 'user_id'])
      .where('user_id', '=', user.id)
      .execute()
    expect(events.map((e) => e.event)).toEqual(
      expect.arrayContaining(['oidc_authorized', 'oidc_token_revoked']),
    )
  })

  it('RP-initiated logout ends the provider session, and prompt=none then answers login_required', async () => {
    const { config, tokens, b } = await signedIn()
    const silent = await authorizationUrl(config, { prompt: 'none', scope: 'openid' })
    const before = new URL(location(await b.go(silent.url.toString())))
    expect(before.searchParams.get('code')).toBeTruthy()

    const end = oidc.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: `${APP}/bye`,
      state: 'bye-state',
    })
    const page = await b.go(end.toString())
    expect(page.status).toBe(200)
    const html = await page.text()
    // Gatehouse's own page: the application's name, nothing fetched from elsewhere.
    expect(html).toContain('<html lang="en">')
    expect(html).toContain('<strong>Example app</strong> asks to sign you out.')
    expect(html).toContain('name="logout" value="yes"')
    expect(html).not.toMatch(/@import|<link|<script/)
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1]
    expect(xsrf).toBeTruthy()
    const confirmed = await b.go('/oidc/session/end/confirm', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ xsrf: xsrf!, logout: 'yes' }).toString(),
    })
    expect(location(confirmed)).toBe(`${APP}/bye?state=bye-state`)

    const after = await authorizationUrl(config, { prompt: 'none', scope: 'openid' })
    const answer = new URL(location(await b.go(after.url.toString())))
    expect(answer.searchParams.get('error')).toBe('login_required')
    // The Gatehouse session ended, and the tokens that came from it with it (SPEC §4.12),
    // offline_access or not.
    expect(tokens.scope).toContain('offline_access')
    expect(await oauthError(oidc.refreshTokenGrant(config, tokens.refresh_token!))).toBe(
      'invalid_grant',
    )
  })

  it('RP-initiated logout with nowhere to return to ends on a signed-out page; "Stay signed in" keeps the session', async () => {
    const { config, b } = await signedIn()
    const confirmPage = async () => {
      const html = await (await b.go(oidc.buildEndSessionUrl(config).toString())).text()
      return /name="xsrf" value="([^"]+)"/.exec(html)![1]!
    }
    const stay = await b.go('/oidc/session/end/confirm', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ xsrf: await confirmPage() }).toString(),
    })
    const silent = await authorizationUrl(config, { prompt: 'none', scope: 'openid' })
    const still = new URL(location(await b.go(silent.url.toString())))
    expect(still.searchParams.get('code')).toBeTruthy()
    expect(stay.status).toBe(303)

    const confirmed = await b.go('/oidc/session/end/confirm', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ xsrf: await confirmPage(), logout: 'yes' }).toString(),
    })
    const done = await b.go(location(confirmed))
    expect(done.status).toBe(200)
    const html = await done.text()
    expect(html).toContain('<h1>You are signed out</h1>')
    const after = await authorizationUrl(config, { prompt: 'none', scope: 'openid' })
    const answer = new URL(location(await b.go(after.url.toString())))
    expect(answer.searchParams.get('error')).toBe('login_required')
  })

  it('never redirects to an unregistered redirect URI', async () => {
    const registered = await registerClient(srv.server, {})
    const config = await configFor(srv.server, registered)
    const start = await authorizationUrl(config, { redirect_uri: `${APP}/callback/../evil` })
    const res = await browser(srv.server).go(start.url.toString())
    expect(res.status).toBe(400)
    expect(res.headers.get('location')).toBeNull()
    const prefix = await authorizationUrl(config, { redirect_uri: `${CALLBACK}x` })
    expect((await browser(srv.server).go(prefix.url.toString())).headers.get('location')).toBeNull()
  })

  it('answers in the query only: fragment and form_post response modes are refused', async () => {
    const registered = await registerClient(srv.server, {})
    const config = await configFor(srv.server, registered)
    for (const mode of ['fragment', 'form_post']) {
      const start = await authorizationUrl(config, { response_mode: mode })
      const res = await browser(srv.server).go(start.url.toString())
      const text = `${res.headers.get('location') ?? ''} ${await res.text()}`
      expect(text, mode).toContain('invalid_request')
      expect(res.headers.get('location') ?? '', mode).not.toMatch(/^\/oidc-interaction\//)
    }
  })

  /**
   * Regression: `response_type=token` (or any type with a token in it) was answered
   * `invalid_request` — the client's query-only response mode was checked before the response
   * type — where RFC 6749 §4.1.2.1/§4.2.2.1 and OIDC Core §3.1.2.6 say
   * `unsupported_response_type`, sent back to the registered redirect URI with the state.
   */
  it('answers an unsupported response_type with unsupported_response_type at the redirect URI', async () => {
    const registered = await registerClient(srv.server, {})
    const config = await configFor(srv.server, registered)
    // Implicit and hybrid types get it in the fragment, where such a client reads its answer
    // (RFC 6749 §4.2.2.1); an unknown type in the query.
    for (const [type, part] of [
      ['token', 'hash'],
      ['id_token', 'hash'],
      ['id_token token', 'hash'],
      ['code id_token', 'hash'],
      ['none', 'search'],
      ['made_up', 'search'],
    ] as const) {
      const start = await authorizationUrl(config, { response_type: type })
      const res = await browser(srv.server).go(start.url.toString())
      expect(res.status, type).toBe(303)
      const to = new URL(location(res))
      expect(`${to.origin}${to.pathname}`, type).toBe(CALLBACK)
      const answer = new URLSearchParams(to[part].slice(1))
      expect(answer.get('error'), type).toBe('unsupported_response_type')
      expect(answer.get('state'), type).toBe(start.state)
      expect(answer.get('iss'), type).toBe(ISSUER)
      expect(answer.get('code'), type).toBeNull()
    }
    // With a redirect URI the client never registered, nothing is sent there.
    const foreign = await authorizationUrl(config, {
      response_type: 'token',
      redirect_uri: `${APP}/elsewhere`,
    })
    const res = await browser(srv.server).go(foreign.url.toString())
    expect(res.status).toBe(400)
    expect(res.headers.get('location')).toBeNull()
  })

  it('refuses a wrong code_verifier, and a code used twice gives tokens once', async () => {
    const user = await newUser()
    const registered = await registerClient(srv.server, {})
    const config = await configFor(srv.server, registered)
    const start = await authorizationUrl(config)
    const callback = await signIn(browser(srv.server), start.url, user.token)
    expect(
      await oauthError(
        oidc.authorizationCodeGrant(config, callback, {
          pkceCodeVerifier: oidc.randomPKCECodeVerifier(),
          expectedState: start.state,
        }),
      ),
    ).toBe('invalid_grant')

    const again = await authorizationUrl(config)
    const second = await signIn(browser(srv.server), again.url, user.token)
    const redeem = () =>
      srv.server.fetch(`${ISSUER}/oidc/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: second.searchParams.get('code')!,
          redirect_uri: CALLBACK,
          code_verifier: again.verifier,
          client_id: registered.client_id,
        }).toString(),
      })
    const [a, b] = await Promise.all([redeem(), redeem()])
    expect([a.status, b.status].sort()).toEqual([200, 400])
    const third = await redeem()
    expect(third.status).toBe(400)
    expect(((await third.json()) as { error: string }).error).toBe('invalid_grant')
  })

  it('a denied consent returns access_denied to the client', async () => {
    const user = await newUser()
    const registered = await registerClient(srv.server, {})
    const config = await configFor(srv.server, registered)
    const start = await authorizationUrl(config)
    const callback = await signIn(browser(srv.server), start.url, user.token, { allow: false })
    expect(callback.searchParams.get('error')).toBe('access_denied')
    expect(callback.searchParams.get('state')).toBe(start.state)
  })

  /** The interaction API as the web UI calls it, in one browser. */
  const interactionApi = (b: Browser) => ({
    async post(uid: string, action: string, token: string, body = {}) {
      const res = await b.go(`/api/oidc/interaction/${uid}/${action}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
      const text = await res.text()
      return {
        status: res.status,
        body: (text ? JSON.parse(text) : {}) as { redirect_to?: string },
      }
    },
    /** Follows a redirect_to through the provider to the next interaction screen's uid. */
    async next(redirectTo: string) {
      const to = location(await b.go(redirectTo))
      const uid = /^\/oidc-interaction\/([A-Za-z0-9_-]+)$/.exec(to)?.[1]
      if (!uid) throw new Error(`expected an interaction screen, got ${to}`)
      return uid
    },
    async prompt(uid: string) {
      const res = await b.go(`/api/oidc/interaction/${uid}`)
      return res.status === 200
        ? ((await res.json()) as { prompt: { name: string } }).prompt.name
        : res.status
    },
  })

  /** Two people, a client, and the first person at the consent screen in one browser. */
  async function atConsent() {
    const first = await newUser()
    const second = await newUser()
    const config = await configFor(srv.server, await registerClient(srv.server, {}))
    const start = await authorizationUrl(config)
    const b = browser(srv.server)
    const api = interactionApi(b)
    const loginUid = location(await b.go(start.url.toString()))
      .split('/')
      .pop()!
    const login = await api.post(loginUid, 'login', first.token)
    expect(login.status).toBe(200)
    const uid = await api.next(login.body.redirect_to!)
    expect(await api.prompt(uid)).toBe('consent')
    return { first, second, config, start, b, api, uid }
  }

  /** The second person allows, and the code the application gets is theirs. */
  async function secondAllows(at: Awaited<ReturnType<typeof atConsent>>, redirectTo: string) {
    const { api, second, first, config, start, b } = at
    const uid = await api.next(redirectTo)
    expect(uid).not.toBe(at.uid)
    expect(await api.prompt(uid)).toBe('consent')
    expect((await api.post(uid, 'consent', first.token, { allow: true })).status).not.toBe(200)
    const allowed = await api.post(uid, 'consent', second.token, { allow: true })
    expect(allowed.status).toBe(200)
    const callback = new URL(location(await b.go(allowed.body.redirect_to!)))
    const tokens = await redeem(config, callback, start)
    expect(tokens.claims()!.sub).toBe(second.id)
    // Nothing is left of the first person's provider session in this browser, nor a consent.
    const left = await srv.server.t.services.db
      .selectFrom('oidc_payloads')
      .select(['model'])
      .where('account_id', '=', first.id)
      .where('model', 'in', ['Session', 'Grant'])
      .execute()
    expect(left).toEqual([])
    const silent = await authorizationUrl(config, { prompt: 'none', scope: 'openid' })
    const again = new URL(location(await b.go(silent.url.toString())))
    const silentTokens = await redeem(config, again, silent)
    expect(silentTokens.claims()!.sub).toBe(second.id)
  }

  it('at the consent step another person can log in instead; the consent and the code are theirs', async () => {
    const at = await atConsent()
    // Answering someone else's consent is refused; logging in at it starts over as oneself.
    expect((await at.api.post(at.uid, 'consent', at.second.token, { allow: true })).status).toBe(
      403,
    )
    const switched = await at.api.post(at.uid, 'login', at.second.token)
    expect(switched.status).toBe(200)
    await secondAllows(at, switched.body.redirect_to!)
  })

  it('"use another account": the first person restarts the sign-in and signs out; the next one finishes it', async () => {
    const at = await atConsent()
    expect((await at.api.post(at.uid, 'restart', at.second.token)).status).toBe(403)
    expect((await at.api.post(at.uid, 'restart', at.first.token)).status).toBe(204)
    const logout = await srv.server.fetch(`${ISSUER}/api/auth/logout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${at.first.token}` },
    })
    expect(logout.status).toBe(204)
    // Still there after the sign-out, and it is nobody's: no one can answer its consent.
    expect(await at.api.prompt(at.uid)).toBe('consent')
    expect((await at.api.post(at.uid, 'consent', at.second.token, { allow: true })).status).toBe(
      403,
    )
    expect((await at.api.post(at.uid, 'restart', at.second.token)).status).toBe(204)
    const login = await at.api.post(at.uid, 'login', at.second.token)
    expect(login.status).toBe(200)
    await secondAllows(at, login.body.redirect_to!)
  })

  it('remembers a consent per person and client; revoking it asks again', async () => {
    const user = await newUser()
    const registered = await registerClient(srv.server, {})
    const config = await configFor(srv.server, registered)
    const scope = { scope: 'openid profile', prompt: undefined }
    await signIn(browser(srv.server), (await authorizationUrl(config, scope)).url, user.token)
    const api = clientOf(() => srv.server.t.app)
    const grants = await api.get<{ items: { client_id: string; scopes: string[] }[] }>(
      '/api/auth/oidc-grants',
      user.token,
    )
    expect(grants.body.items).toEqual([
      expect.objectContaining({ client_id: registered.client_id, scopes: ['openid', 'profile'] }),
    ])
    // A new browser: login again, but no consent screen.
    const b = browser(srv.server)
    const first = await b.go((await authorizationUrl(config, scope)).url.toString())
    const uid = location(first).split('/').pop()!
    const login = await b.go(`/api/oidc/interaction/${uid}/login`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
      body: '{}',
    })
    const resumed = await b.go(((await login.json()) as { redirect_to: string }).redirect_to)
    expect(location(resumed).startsWith(`${CALLBACK}?code=`)).toBe(true)

    expect(
      (await api.delete(`/api/auth/oidc-grants/${registered.client_id}`, user.token)).status,
    ).toBe(204)
    expect(
      (await api.delete(`/api/auth/oidc-grants/${registered.client_id}`, user.token)).status,
    ).toBe(404)
    const fresh = browser(srv.server)
    const again = await fresh.go((await authorizationUrl(config, scope)).url.toString())
    const uid2 = location(again).split('/').pop()!
    const login2 = await fresh.go(`/api/oidc/interaction/${uid2}/login`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
      body: '{}',
    })
    const next = await fresh.go(((await login2.json()) as { redirect_to: string }).redirect_to)
    expect(location(next)).toMatch(/^\/oidc-interaction\//)
  })

  it('issues an RFC 9068 JWT for a registered resource, verifiable through the JWKS and refused by Gatehouse', async () => {
    const user = await newUser()
    const registered = await registerClient(srv.server, {
      scopes: ['openid', 'api:read'],
      resources: [API],
    })
    const config = await configFor(srv.server, registered)
    const start = await authorizationUrl(config, { scope: 'openid api:read', resource: API })
    const callback = await signIn(browser(srv.server), start.url, user.token)
    const tokens = await oidc.authorizationCodeGrant(
      config,
      callback,
      { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce },
      { resource: API },
    )
    const jwks = (await (
      await srv.server.fetch(`${ISSUER}/.well-known/jwks.json`)
    ).json()) as JSONWebKeySet
    const { payload, protectedHeader } = await jwtVerify(
      tokens.access_token,
      createLocalJWKSet(jwks),
      { issuer: ISSUER, audience: API, typ: 'at+jwt' },
    )
    expect(payload.sub).toBe(user.id)
    expect(payload.scope).toBe('api:read')
    expect(protectedHeader.alg).toBe('RS256')
    const me = await clientOf(() => srv.server.t.app).get('/api/auth/me', tokens.access_token)
    expect(me.status).toBe(401)
    expect(me.body.code).toBe('invalid_token')
    // A resource the client is not registered for is refused.
    const other = await authorizationUrl(config, {
      scope: 'openid api:read',
      resource: 'https://other.test',
    })
    const refused = new URL(location(await browser(srv.server).go(other.url.toString())))
    expect(refused.searchParams.get('error')).toBe('invalid_target')
  })

  it('prompt=none without a session answers login_required', async () => {
    const registered = await registerClient(srv.server, {})
    const config = await configFor(srv.server, registered)
    const start = await authorizationUrl(config, { prompt: 'none', scope: 'openid' })
    const res = new URL(location(await browser(srv.server).go(start.url.toString())))
    expect(res.searchParams.get('error')).toBe('login_required')
    expect(res.searchParams.get('state')).toBe(start.state)
  })

  it('acr_values=mfa (or require_mfa) needs a token whose amr has mfa, and says so in acr/amr', async () => {
    const user = await newUser()
    for (const setup of [
      { client: {}, extra: { acr_values: 'mfa' } },
      { client: { require_mfa: true }, extra: {} },
    ]) {
      const registered = await registerClient(srv.server, setup.client)
      const config = await configFor(srv.server, registered)
      const start = await authorizationUrl(config, setup.extra)
      const b = browser(srv.server)
      const uid = location(await b.go(start.url.toString()))
        .split('/')
        .pop()!
      const view = (await (await b.go(`/api/oidc/interaction/${uid}`)).json()) as {
        prompt: { reasons: string[] }
        client: { name: string }
      }
      expect(view.prompt.reasons).toContain('mfa_required')
      expect(view.client.name).toBe('Example app')
      const refused = await b.go(`/api/oidc/interaction/${uid}/login`, {
        method: 'POST',
        headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
        body: '{}',
      })
      expect(refused.status).toBe(403)
      expect(((await refused.json()) as { code: string }).code).toBe('mfa_required')

      const strong = await mfaToken(srv.server.t, user.id)
      const callback = await signIn(b, start.url, strong)
      const tokens = await redeem(config, callback, start)
      expect(tokens.claims()).toMatchObject({ acr: 'mfa', amr: ['pwd', 'mfa', 'otp'] })
    }
  })

  it('ending the Gatehouse session ends the OIDC session and its refresh tokens', async () => {
    const { config, tokens, user, b } = await signedIn()
    const logout = await srv.server.fetch(`${ISSUER}/api/auth/logout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
      body: '{}',
    })
    expect(logout.status).toBe(204)
    expect(await oauthError(oidc.refreshTokenGrant(config, tokens.refresh_token!))).toBe(
      'invalid_grant',
    )
    expect(await oauthError(oidc.fetchUserInfo(config, tokens.access_token, user.id))).toBe(
      'invalid_token',
    )
    const silent = await authorizationUrl(config, { prompt: 'none', scope: 'openid' })
    const answer = new URL(location(await b.go(silent.url.toString())))
    expect(answer.searchParams.get('error')).toBe('login_required')
  })

  it('admins register, list, change and delete clients; secrets are shown once; audited', async () => {
    const admin = await adminWithMfa(srv.server.t, 'oidc-admin-clients')
    const api = clientOf(() => srv.server.t.app)
    const created = await api.post<Record<string, unknown>>(
      '/api/admin/oidc-clients',
      { name: 'Wiki', redirect_uris: ['https://wiki.test/cb'], type: 'confidential' },
      admin.token,
    )
    expect(created.status).toBe(201)
    expect(created.body.client_secret).toMatch(/^ghcs_/)
    expect(created.headers['cache-control']).toBe('no-store')
    const id = created.body.client_id as string
    const one = await api.get<Record<string, unknown>>(`/api/admin/oidc-clients/${id}`, admin.token)
    expect(one.body).toMatchObject({ client_id: id, name: 'Wiki', type: 'confidential' })
    expect(one.body).not.toHaveProperty('client_secret')
    const list = await api.get<{ items: { client_id: string }[] }>(
      '/api/admin/oidc-clients',
      admin.token,
    )
    expect(list.body.items.map((c) => c.client_id)).toContain(id)
    const patched = await api.call<Record<string, unknown>>(
      'PATCH',
      `/api/admin/oidc-clients/${id}`,
      {
        body: { require_mfa: true, redirect_uris: ['https://wiki.test/cb2'] },
        token: admin.token,
      },
    )
    expect(patched.body).toMatchObject({
      require_mfa: true,
      redirect_uris: ['https://wiki.test/cb2'],
    })
    // The type is fixed at registration; GET's own answer sent back is fine.
    const retyped = await api.call<{ code: string; detail: string }>(
      'PATCH',
      `/api/admin/oidc-clients/${id}`,
      { body: { type: 'public' }, token: admin.token },
    )
    expect(retyped.status).toBe(400)
    expect(retyped.body).toMatchObject({ code: 'validation_error' })
    expect(retyped.body.detail).toMatch(/^body\.type: /)
    const same = await api.call('PATCH', `/api/admin/oidc-clients/${id}`, {
      body: { ...patched.body, type: 'confidential' },
      token: admin.token,
    })
    expect(same.status).toBe(200)
    const bad = await api.post<{ code: string; detail: string }>(
      '/api/admin/oidc-clients',
      { name: 'Bad', redirect_uris: ['not a url'], type: 'public' },
      admin.token,
    )
    expect(bad.status).toBe(400)
    expect(bad.body.code).toBe('validation_error')
    expect((await api.delete(`/api/admin/oidc-clients/${id}`, admin.token)).status).toBe(204)
    expect((await api.get(`/api/admin/oidc-clients/${id}`, admin.token)).status).toBe(404)
    const events = await srv.server.t.services.db
      .selectFrom('audit_events')
      .select(['event', 'details'])
      .where('actor_id', '=', admin.id)
      .execute()
    // Rows without an order: the audit sealer may move a late-committed row to a fresh id.
    expect(events.map((e) => e.event).sort()).toEqual([
      'oidc_client_created',
      'oidc_client_deleted',
      'oidc_client_updated',
      'oidc_client_updated',
    ])
    // Where the application may now send codes and tokens is what an audit must show.
    const updated = events.find((e) => e.event === 'oidc_client_updated')!
    expect(JSON.parse(updated.details!)).toMatchObject({
      client_id: id,
      redirect_uris: ['https://wiki.test/cb2'],
      require_mfa: true,
    })
    expect(JSON.stringify(events)).not.toContain(created.body.client_secret as string)
  })

  it("a deleted client's consents and tokens go with it", async () => {
    const { user, registered, config, tokens } = await signedIn()
    const keep = await signedIn()
    const admin = await adminWithMfa(srv.server.t, 'oidc-admin-delete')
    const api = clientOf(() => srv.server.t.app)
    const grants = async (token: string) =>
      (await api.get<{ items: { client_id: string }[] }>('/api/auth/oidc-grants', token)).body.items
    expect((await grants(user.token)).map((g) => g.client_id)).toEqual([registered.client_id])

    const id = registered.client_id
    expect((await api.delete(`/api/admin/oidc-clients/${id}`, admin.token)).status).toBe(204)
    expect(await grants(user.token)).toEqual([])
    const left = await srv.server.t.services.db
      .selectFrom('oidc_payloads')
      .select('model')
      .where('client_id', '=', id)
      .execute()
    expect(left).toEqual([])
    expect(await oauthError(oidc.refreshTokenGrant(config, tokens.refresh_token!))).toBe(
      'invalid_client',
    )
    // Another application's consent and tokens are not touched.
    expect((await grants(keep.user.token)).map((g) => g.client_id)).toEqual([
      keep.registered.client_id,
    ])
    expect(
      (await oidc.refreshTokenGrant(keep.config, keep.tokens.refresh_token!)).refresh_token,
    ).toBeTruthy()
  })
})
