import * as oidc from 'openid-client'
import { describe, expect, it } from 'vitest'
import { OIDC_ROUTES } from '../../src/services/oidc/endpoints.js'
import { runCli } from '../support/cli.js'
import { testDatabases } from '../support/databases.js'
import { clientOf } from '../support/http.js'
import {
  authorizationUrl,
  browser,
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
import { adminWithMfa } from '../support/principals.js'

/**
 * What a black-box audit found at the edges of the OpenID provider's HTTP surface: the
 * authorization endpoint refused POST (OIDC Core §3.1.2.1 requires it); unknown paths and
 * other methods under /oidc got the library's plain-text "Not Found" instead of SPEC §3's
 * problem+json (404, or 405 with Allow); the interaction API's login and restart took any
 * body, `[1]` or none at all, and went ahead (SPEC §3: valid JSON that is not an object is a
 * validation_error, after the credentials are checked); a person revoking an application's
 * consent ended its tokens without an audit row (SPEC §4.12 audits `oidc_token_revoked`);
 * clients registered redirect URIs in plain http to other hosts, or with a user name and
 * password in them (RFC 9700 §2.1: https, or http to this machine only).
 */
const databases = await testDatabases()
describe.each(databases)('OpenID provider surface on $name', (database) => {
  const srv = useOidcServer(database)
  const newUser = userMaker(srv, 'surface-user')
  const form = (body: URLSearchParams | string) => ({
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: body.toString(),
  })
  const expectProblem = async (res: Response, status: number, code: string) => {
    expect(res.status).toBe(status)
    expect(res.headers.get('content-type')).toContain('application/problem+json')
    const body = (await res.json()) as Record<string, unknown>
    expect(body).toMatchObject({ status, code })
    for (const member of ['type', 'title', 'detail']) expect(body).toHaveProperty(member)
  }

  describe('POST to the authorization endpoint (OIDC Core §3.1.2.1)', () => {
    it('starts the same sign-in as the GET: 303 to the interaction, then a code for the client', async () => {
      const user = await newUser()
      const config = await configFor(srv.server, await registerClient(srv.server, {}))
      const start = await authorizationUrl(config)
      const b = browser(srv.server)
      const res = await b.go('/oidc/auth', form(start.url.searchParams))
      expect(res.status).toBe(303)
      expect(location(res)).toMatch(/^\/oidc-interaction\/[A-Za-z0-9_-]+$/)

      const callback = await signIn(browser(srv.server), start.url, user.token, {
        method: 'POST',
      })
      expect(callback.searchParams.get('state')).toBe(start.state)
      const tokens = await redeem(config, callback, start)
      expect(tokens.claims()!.sub).toBe(user.id)
    })

    it('answers as the GET does: prompt=none gives a code with a session, login_required to the client without', async () => {
      const user = await newUser()
      const config = await configFor(srv.server, await registerClient(srv.server, {}))
      const b = browser(srv.server)
      await signIn(b, (await authorizationUrl(config)).url, user.token)
      const silent = await authorizationUrl(config, { prompt: 'none', scope: 'openid' })
      const code = new URL(location(await b.go('/oidc/auth', form(silent.url.searchParams))))
      expect(code.origin + code.pathname).toBe(CALLBACK)
      expect(code.searchParams.get('code')).toBeTruthy()

      const elsewhere = browser(srv.server)
      const refused = await elsewhere.go('/oidc/auth', form(silent.url.searchParams))
      const back = new URL(location(refused))
      expect(back.origin + back.pathname).toBe(CALLBACK)
      expect(back.searchParams.get('error')).toBe('login_required')
      expect(back.searchParams.get('state')).toBe(silent.state)
    })

    it('reads the parameters from the body only, never redirects to an unregistered URI, and takes only forms', async () => {
      const config = await configFor(srv.server, await registerClient(srv.server, {}))
      const start = await authorizationUrl(config)
      // Parameters in the URL of a POST are not the request (OIDC Core §3.1.2.1).
      const inQuery = await browser(srv.server).go(`/oidc/auth${start.url.search}`, form(''))
      expect(inQuery.status).toBe(400)
      expect(inQuery.headers.get('location')).toBeNull()
      expect(await inQuery.text()).toContain('invalid_request')

      const evil = await authorizationUrl(config, { redirect_uri: 'https://evil.test/cb' })
      const res = await browser(srv.server).go('/oidc/auth', form(evil.url.searchParams))
      expect(res.status).toBe(400)
      expect(res.headers.get('location')).toBeNull()

      const asJson = await browser(srv.server).go('/oidc/auth', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(Object.fromEntries(start.url.searchParams)),
      })
      expect(asJson.status).toBe(415)
      expect(asJson.headers.get('content-type')).toContain('application/problem+json')
      expect(await asJson.json()).toMatchObject({
        code: 'unsupported_media_type',
        detail: 'send application/x-www-form-urlencoded',
      })
    })
  })

  describe('unknown paths and other methods under /oidc (SPEC §3)', () => {
    it.each([
      ['GET', '/oidc/token', 'POST'],
      ['GET', '/oidc/token/revocation', 'POST'],
      ['GET', '/oidc/request', 'POST'],
      ['PUT', '/oidc/auth', 'GET, POST'],
      ['DELETE', '/oidc/me', 'GET, POST'],
      ['GET', '/oidc/session/end/confirm', 'POST'],
      ['POST', '/oidc/session/end/success', 'GET'],
      ['POST', '/oidc/jwks', 'GET'],
      ['PATCH', '/oidc/auth/some-uid', 'GET'],
    ])('%s %s is 405 method_not_allowed with Allow: %s', async (method, path, allow) => {
      const res = await srv.server.fetch(`${ISSUER}${path}`, { method })
      expect(res.headers.get('allow')).toBe(allow)
      await expectProblem(res, 405, 'method_not_allowed')
    })

    it('an unknown path is a 404 problem, also for a browser (never the web UI page)', async () => {
      for (const [method, path] of [
        ['GET', '/oidc/nope'],
        ['POST', '/oidc/nope'],
        ['GET', '/oidc'],
        ['GET', '/oidc/'],
        ['GET', '/oidc/token/'],
        ['GET', '/oidc/auth/uid/more'],
        ['GET', '/oidc/interaction/some-uid'],
      ] as const) {
        const res = await srv.server.fetch(`${ISSUER}${path}`, {
          method,
          headers: { accept: 'text/html,application/xhtml+xml' },
        })
        await expectProblem(res, 404, 'not_found')
      }
    })

    it("keeps the provider's own OAuth answers as they are", async () => {
      const registered = await registerClient(srv.server, { type: 'confidential' })
      const token = await srv.server.fetch(`${ISSUER}/oidc/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${registered.client_id}:${registered.client_secret}`).toString('base64')}`,
        },
        body: 'grant_type=authorization_code&code=nope&redirect_uri=x&code_verifier=y',
      })
      expect(token.status).toBe(400)
      expect(token.headers.get('content-type')).toMatch(/^application\/json/)
      expect(await token.json()).toMatchObject({ error: 'invalid_grant' })

      const userinfo = await srv.server.fetch(`${ISSUER}/oidc/me`)
      expect(userinfo.status).toBe(401)
      expect(userinfo.headers.get('www-authenticate')).toMatch(/^Bearer /)
      expect(await userinfo.json()).toMatchObject({ error: 'invalid_token' })

      const page = await srv.server.fetch(`${ISSUER}/oidc/auth?client_id=nobody`)
      expect(page.status).toBe(400)
      expect(page.headers.get('content-type')).toMatch(/^text\/html/)
      expect(page.headers.get('location')).toBeNull()

      const preflight = await srv.server.fetch(`${ISSUER}/oidc/token`, {
        method: 'OPTIONS',
        headers: { origin: 'https://app.test', 'access-control-request-method': 'POST' },
      })
      expect(preflight.status).toBe(204)
      expect(preflight.headers.get('access-control-allow-methods')).toBe('POST')
    })

    it("mounts the provider's own paths", async () => {
      const provider = await srv.server.t.services.oidc.provider()
      for (const route of OIDC_ROUTES) {
        if (route.path.startsWith('/.well-known/')) continue // one name, two paths
        // The issuer is the root; the mount is told per request.
        const path = route.path.replace(':uid', 'x')
        expect(provider.pathFor(route.name, { uid: 'x' }), route.name).toBe(path)
      }
    })
  })

  /**
   * Regression: the provider reads its own bodies with a limit of 56 KiB and answered a larger
   * one with its 400 invalid_request, where SPEC §3 makes a body over 64 KiB a 413
   * payload_too_large problem; a body between the two limits was refused the same way although
   * Gatehouse accepts it everywhere else.
   */
  describe('bodies over 64 KiB (SPEC §3)', () => {
    const bodyRoutes = OIDC_ROUTES.filter((r) => r.methods.includes('POST'))
      .map((r) => r.path)
      .concat('/auth')
    const padded = (bytes: number) => {
      const head = 'grant_type=client_credentials&client_id=nobody&padding='
      return head + 'x'.repeat(bytes - head.length)
    }

    it.each(bodyRoutes)('POST /oidc%s over the limit is 413 payload_too_large', async (path) => {
      expect(bodyRoutes.length).toBeGreaterThanOrEqual(6)
      const res = await srv.server.fetch(`${ISSUER}/oidc${path}`, form(padded(70 * 1024)))
      await expectProblem(res, 413, 'payload_too_large')
    })

    it.each(bodyRoutes)('POST /oidc%s over the limit without a length is 413 too', async (path) => {
      const body = new TextEncoder().encode(padded(70 * 1024))
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let at = 0; at < body.length; at += 8192)
            controller.enqueue(body.slice(at, at + 8192))
          controller.close()
        },
      })
      const res = await srv.server.fetch(`${ISSUER}/oidc${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: stream,
        duplex: 'half',
      })
      await expectProblem(res, 413, 'payload_too_large')
    })

    it('a body within the limit gets the OAuth answer it earns, also above the library limit', async () => {
      for (const size of [1024, 60 * 1024, 64 * 1024]) {
        const res = await srv.server.fetch(`${ISSUER}/oidc/token`, form(padded(size)))
        expect(res.status, `${size} bytes`).toBe(401)
        expect(await res.json()).toMatchObject({ error: 'invalid_client' })
      }
      const revoke = await srv.server.fetch(
        `${ISSUER}/oidc/token/revocation`,
        form(`token=x&client_id=nobody&padding=${'x'.repeat(60 * 1024)}`),
      )
      expect(revoke.status).toBe(401)
      expect(await revoke.json()).toMatchObject({ error: 'invalid_client' })
    })
  })

  describe('the interaction API checks its bodies (SPEC §3)', () => {
    /** A browser at the login step of a fresh sign-in, and the interaction's uid. */
    async function atLogin() {
      const config = await configFor(srv.server, await registerClient(srv.server, {}))
      const b = browser(srv.server)
      const to = location(await b.go((await authorizationUrl(config)).url.toString()))
      const uid = /^\/oidc-interaction\/([A-Za-z0-9_-]+)$/.exec(to)![1]!
      return { b, uid }
    }
    const prompt = async (b: ReturnType<typeof browser>, uid: string) =>
      ((await (await b.go(`/api/oidc/interaction/${uid}`)).json()) as { prompt: { name: string } })
        .prompt.name

    it.each(['login', 'restart'])(
      'POST …/%s refuses a body that is not a JSON object, and goes no further',
      async (action) => {
        const user = await newUser()
        const { b, uid } = await atLogin()
        const post = (init: { token?: string; type?: string; body?: string }) =>
          b.go(`/api/oidc/interaction/${uid}/${action}`, {
            method: 'POST',
            headers: {
              ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
              ...(init.type ? { 'content-type': init.type } : {}),
            },
            body: init.body,
          })
        for (const body of ['[1]', '"x"', '42', 'null']) {
          const res = await post({ token: user.token, type: 'application/json', body })
          await expectProblem(res, 400, 'validation_error')
        }
        await expectProblem(await post({ token: user.token }), 400, 'validation_error')
        await expectProblem(
          await post({ token: user.token, type: 'text/plain', body: '{}' }),
          415,
          'unsupported_media_type',
        )
        // Credentials first: no token is a 401 whatever the body.
        await expectProblem(
          await post({ type: 'application/json', body: '[1]' }),
          401,
          'unauthorized',
        )
        expect(await prompt(b, uid)).toBe('login')

        // What the web UI sends still works.
        const ok = await post({ token: user.token, type: 'application/json', body: '{}' })
        expect(ok.status).toBe(action === 'login' ? 200 : 204)
      },
    )
  })

  describe("revoking an application's consent (SPEC §4.12)", () => {
    const revokedRows = (userId: string) =>
      srv.server.t.services.db
        .selectFrom('audit_events')
        .select(['user_id', 'details', 'user_agent', 'outcome'])
        .where('event', '=', 'oidc_token_revoked')
        .where('user_id', '=', userId)
        .execute()
    const revoke = (token: string, clientId?: string) =>
      srv.server.fetch(`${ISSUER}/api/auth/oidc-grants${clientId ? `/${clientId}` : ''}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${token}`, 'user-agent': 'surface-test' },
      })

    it("ends that application's tokens and audits oidc_token_revoked, once per application", async () => {
      const user = await newUser()
      const signedInTo = async () => {
        const registered = await registerClient(srv.server, {})
        const config = await configFor(srv.server, registered)
        const start = await authorizationUrl(config)
        const callback = await signIn(browser(srv.server), start.url, user.token)
        return { registered, config, tokens: await redeem(config, callback, start) }
      }
      const wiki = await signedInTo()
      const chat = await signedInTo()

      expect((await revoke(user.token, wiki.registered.client_id)).status).toBe(204)
      expect(
        await oauthError(oidc.refreshTokenGrant(wiki.config, wiki.tokens.refresh_token!)),
      ).toBe('invalid_grant')
      const rows = await revokedRows(user.id)
      expect(rows).toHaveLength(1)
      expect(rows[0]).toMatchObject({ outcome: 'success', user_agent: 'surface-test' })
      expect(JSON.parse(rows[0]!.details!)).toEqual({
        client_id: wiki.registered.client_id,
        via: 'grant',
      })
      expect(rows[0]!.details).not.toContain(wiki.tokens.refresh_token!)

      // Nothing to revoke: 404, nothing audited.
      await expectProblem(await revoke(user.token, wiki.registered.client_id), 404, 'not_found')
      expect(await revokedRows(user.id)).toHaveLength(1)

      // Revoking every consent audits each application it ended.
      expect((await revoke(user.token)).status).toBe(204)
      expect(
        await oauthError(oidc.refreshTokenGrant(chat.config, chat.tokens.refresh_token!)),
      ).toBe('invalid_grant')
      const all = (await revokedRows(user.id)).map(
        (r) => (JSON.parse(r.details!) as { client_id: string }).client_id,
      )
      expect(all.sort()).toEqual([wiki.registered.client_id, chat.registered.client_id].sort())
    })
  })

  describe('redirect URIs are https, or http to this machine (RFC 9700 §2.1)', () => {
    const refused: [string, RegExp][] = [
      ['http://example.com/cb', /must be an https URL/],
      ['http://app.test:8080/cb', /must be an https URL/],
      ['http://127.0.0.2/cb', /must be an https URL/],
      ['http://localhost.example.com/cb', /must be an https URL/],
      ['ftp://example.com/cb', /must be an https URL/],
      ['http://user:s3cret@localhost/cb', /must not contain a user name or password/],
      ['https://user:s3cret@example.com/cb', /must not contain a user name or password/],
      ['https://trusted.example@evil.example/cb', /must not contain a user name or password/],
      ['https://@example.com/cb', /must not contain a user name or password/],
      ['https://example.com/cb#frag', /must not have a fragment/],
    ]
    const accepted = [
      'https://wiki.test/cb',
      'http://localhost:4000/callback',
      'http://127.0.0.1:8080/cb',
      'http://[::1]:3000/cb',
    ]

    it('the admin API refuses the others with validation_error naming the field, on create and change', async () => {
      const admin = await adminWithMfa(srv.server.t, 'surface-admin-uris')
      const api = clientOf(() => srv.server.t.app)
      const create = (body: Record<string, unknown>) =>
        api.post<{ code: string; detail: string; client_id: string }>(
          '/api/admin/oidc-clients',
          { name: 'Redirects', type: 'public', ...body },
          admin.token,
        )
      for (const [uri, why] of refused) {
        for (const field of ['redirect_uris', 'post_logout_redirect_uris']) {
          const res = await create({
            redirect_uris: ['https://wiki.test/cb'],
            [field]: [uri],
          })
          expect(res.status, `${field} ${uri}`).toBe(400)
          expect(res.body.code).toBe('validation_error')
          expect(res.body.detail).toMatch(new RegExp(`^${field}: `))
          expect(res.body.detail).toMatch(why)
          expect(res.body.detail).not.toContain('s3cret')
        }
      }
      const ok = await create({ redirect_uris: accepted, post_logout_redirect_uris: accepted })
      expect(ok.status).toBe(201)
      const id = ok.body.client_id

      for (const [uri, why] of refused) {
        const res = await api.call<{ code: string; detail: string }>(
          'PATCH',
          `/api/admin/oidc-clients/${id}`,
          { body: { redirect_uris: [uri] }, token: admin.token },
        )
        expect(res.status, uri).toBe(400)
        expect(res.body.code).toBe('validation_error')
        expect(res.body.detail).toMatch(/^redirect_uris: /)
        expect(res.body.detail).toMatch(why)
      }
      const kept = await api.get<{ redirect_uris: string[] }>(
        `/api/admin/oidc-clients/${id}`,
        admin.token,
      )
      expect(kept.body.redirect_uris).toEqual(accepted)
    })

    it('a client registered before the rule keeps its URIs and still takes other changes', async () => {
      const admin = await adminWithMfa(srv.server.t, 'surface-admin-legacy')
      const api = clientOf(() => srv.server.t.app)
      const registered = await registerClient(srv.server, { name: 'Legacy' })
      const { db } = srv.server.t.services
      const row = await db
        .selectFrom('oidc_clients')
        .select('metadata')
        .where('id', '=', registered.client_id)
        .executeTakeFirstOrThrow()
      const legacy = 'http://legacy.example/cb'
      await db
        .updateTable('oidc_clients')
        .set({ metadata: JSON.stringify({ ...JSON.parse(row.metadata), redirect_uris: [legacy] }) })
        .where('id', '=', registered.client_id)
        .execute()
      const path = `/api/admin/oidc-clients/${registered.client_id}`
      const renamed = await api.call<{ name: string; redirect_uris: string[] }>('PATCH', path, {
        body: { name: 'Legacy, renamed' },
        token: admin.token,
      })
      expect(renamed.status).toBe(200)
      expect(renamed.body).toMatchObject({ name: 'Legacy, renamed', redirect_uris: [legacy] })
      // Naming the old URI again is a change, and the rule applies to it.
      const again = await api.call<{ code: string }>('PATCH', path, {
        body: { redirect_uris: [legacy] },
        token: admin.token,
      })
      expect(again.status).toBe(400)
      expect(again.body.code).toBe('validation_error')
    })

    it('`gatehouse client create` refuses them too', { timeout: 60_000 }, async () => {
      const res = await runCli(
        ['client', 'create', 'Plain', '--redirect-uri', 'http://example.com/cb'],
        { databaseUrl: srv.server.databaseUrl },
      )
      expect(res.code).not.toBe(0)
      expect(res.stderr).toMatch(/redirect_uris: "http:\/\/example\.com\/cb" must be an https URL/)
      expect(res.stdout).not.toContain('client_id')
    })
  })
})
