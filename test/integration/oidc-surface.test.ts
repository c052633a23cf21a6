import { describe, expect, it } from 'vitest'
import { testDatabases } from '../support/databases.js'
import { STRONG_PASSWORD } from '../support/http.js'
import {
  authorizationUrl,
  browser,
  CALLBACK,
  configFor,
  gatehouseLogin,
  location,
  redeem,
  registerClient,
  signIn,
  useOidcServer,
} from '../support/oidc.js'

/**
 * What a black-box audit found at the edges of the OpenID provider's HTTP surface: the
 * authorization endpoint refused POST (OIDC Core §3.1.2.1 requires it).
 */
const databases = await testDatabases()
describe.each(databases)('OpenID provider surface on $name', (database) => {
  const srv = useOidcServer(database)
  let n = 0
  const newUser = async () => {
    const username = `surface-user-${++n}`
    const id = await srv.server.t.services.accounts.create({
      username,
      password: STRONG_PASSWORD,
      roles: ['user'],
    })
    return { id, username, token: await gatehouseLogin(srv.server, username) }
  }
  const form = (body: URLSearchParams | string) => ({
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: body.toString(),
  })

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
      expect(((await asJson.json()) as { code: string }).code).toBe('unsupported_media_type')
    })
  })
})
