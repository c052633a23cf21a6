import * as oidc from 'openid-client'
import { describe, expect, it } from 'vitest'
import { testDatabases } from '../support/databases.js'
import {
  authorizationUrl,
  browser,
  type Browser,
  configFor,
  location,
  redeem,
  registerClient,
  signIn,
  useOidcServer,
  userMaker,
} from '../support/oidc.js'
import { startApp, useFreshDatabase } from '../support/harness.js'
import { STRONG_PASSWORD } from '../support/http.js'
import { appCode } from '../support/totp.js'

const WEB = { 'content-type': 'application/json', 'x-gatehouse-client': 'web' }

/** Posts JSON as the web UI does (cookie mode) and returns the status and body. */
async function web(b: Browser, path: string, body: unknown, token?: string) {
  const res = await b.go(path, {
    method: 'POST',
    headers: { ...WEB, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  })
  return {
    status: res.status,
    body: (await res.json().catch(() => ({}))) as Record<string, unknown>,
  }
}

/** Signs in at the web UI (cookie mode) in browser `b`. */
const webSignIn = (b: Browser, user: { username: string }) =>
  web(b, '/api/auth/login', { username: user.username, password: STRONG_PASSWORD })

// SPEC §4.12: "prompt=none works when a Gatehouse session exists" — the web UI's session too,
// not only a provider session from an earlier OpenID sign-in in this browser.
describe.each(await testDatabases())('single sign-on from the web UI on $name', (database) => {
  const srv = useOidcServer(database)
  const newUser = userMaker(srv, 'sso-user')

  /** An application the person already allowed (in another browser), ready for silent sign-ins. */
  async function consentedApp(user: { token: string }) {
    const config = await configFor(srv.server, await registerClient(srv.server, {}))
    const first = await authorizationUrl(config, { scope: 'openid profile', prompt: undefined })
    await signIn(browser(srv.server), first.url, user.token)
    return config
  }

  async function silently(b: Browser, config: Awaited<ReturnType<typeof consentedApp>>) {
    const start = await authorizationUrl(config, { scope: 'openid profile', prompt: 'none' })
    const callback = new URL(location(await b.go(start.url.toString())))
    return { callback, start }
  }

  it('a web sign-in lets an allowed application sign the person in with prompt=none', async () => {
    const user = await newUser()
    const config = await consentedApp(user)
    const b = browser(srv.server)
    const login = await webSignIn(b, user)
    expect(login.status).toBe(200)
    expect(login.body.refresh_token).toBeUndefined()
    expect(b.jar.has('gatehouse_refresh')).toBe(true)
    expect(b.jar.has('_session')).toBe(true)

    const { callback, start } = await silently(b, config)
    expect(callback.searchParams.get('error')).toBeNull()
    const claims = (await redeem(config, callback, start)).claims()!
    expect(claims.sub).toBe(user.id)
    expect(claims.amr).toEqual(['pwd'])

    // An application the person never allowed still has to ask.
    const other = await configFor(srv.server, await registerClient(srv.server, {}))
    expect((await silently(b, other)).callback.searchParams.get('error')).toBe('consent_required')
  })

  it('the provider cookie is HttpOnly and Lax: it reaches an application’s redirect, never a script', async () => {
    const user = await newUser()
    const res = await browser(srv.server).go('/api/auth/login', {
      method: 'POST',
      headers: WEB,
      body: JSON.stringify({ username: user.username, password: STRONG_PASSWORD }),
    })
    const lines = res.headers.getSetCookie()
    const session = lines.find((l) => l.startsWith('_session='))
    expect(session).toMatch(/httponly/i)
    expect(session).toMatch(/samesite=lax/i)
    expect(session).toMatch(/path=\//i)
    expect(lines.some((l) => l.startsWith('_session.sig='))).toBe(true)
    expect(lines.some((l) => l.startsWith('gatehouse_refresh='))).toBe(true)
  })

  it('a sign-in through the API (no web client) opens no provider session', async () => {
    const user = await newUser()
    const config = await consentedApp(user)
    const b = browser(srv.server)
    const login = await b.go('/api/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: user.username, password: STRONG_PASSWORD }),
    })
    expect(login.status).toBe(200)
    expect(b.jar.has('_session')).toBe(false)
    expect((await silently(b, config)).callback.searchParams.get('error')).toBe('login_required')
  })

  it('signing out of the web UI signs the browser out of applications', async () => {
    const user = await newUser()
    const config = await consentedApp(user)
    const b = browser(srv.server)
    await webSignIn(b, user)
    expect((await silently(b, config)).callback.searchParams.get('code')).toBeTruthy()

    expect((await web(b, '/api/auth/logout', {})).status).toBe(204)
    expect((await silently(b, config)).callback.searchParams.get('error')).toBe('login_required')
  })

  it('whoever signs in at the web UI next is the one applications see', async () => {
    const first = await newUser()
    const second = await newUser()
    const firstApp = await consentedApp(first)
    const b = browser(srv.server)
    await webSignIn(b, first)
    expect((await silently(b, firstApp)).callback.searchParams.get('code')).toBeTruthy()

    // The second person signs in in the same browser without the first signing out.
    await webSignIn(b, second)
    const asSecond = await silently(b, firstApp)
    // The second person never allowed the first one's application.
    expect(asSecond.callback.searchParams.get('error')).toBe('consent_required')
    const secondApp = await consentedApp(second)
    const { callback, start } = await silently(b, secondApp)
    expect((await redeem(secondApp, callback, start)).claims()!.sub).toBe(second.id)
  })

  it('a cookie refresh opens the provider session again when the browser lost it', async () => {
    const user = await newUser()
    const config = await consentedApp(user)
    const b = browser(srv.server)
    await webSignIn(b, user)
    b.jar.delete('_session')
    b.jar.delete('_session.sig')
    expect((await silently(b, config)).callback.searchParams.get('error')).toBe('login_required')

    expect((await web(b, '/api/auth/refresh', {})).status).toBe(200)
    expect((await silently(b, config)).callback.searchParams.get('code')).toBeTruthy()
    // Refreshing again with the session in place changes nothing.
    const again = await b.go('/api/auth/refresh', { method: 'POST', headers: WEB, body: '{}' })
    expect(again.status).toBe(200)
    expect(again.headers.getSetCookie().some((l) => l.startsWith('_session='))).toBe(false)
  })

  it('a sign-in with a second factor carries it to applications (login/verify)', async () => {
    const user = await newUser()
    const { t } = srv.server
    const setup = await web(browser(srv.server), '/api/auth/2fa/totp/setup', {}, user.token)
    expect(setup.status).toBe(200)
    const secret = setup.body.secret as string
    const enabled = await web(
      browser(srv.server),
      '/api/auth/2fa/totp/enable',
      { code: appCode(secret, t.clock) },
      user.token,
    )
    expect(enabled.status).toBe(200)
    t.clock.advance('30s')
    const config = await consentedApp({ token: user.token })

    const b = browser(srv.server)
    const first = await webSignIn(b, user)
    expect(first.body.mfa_required).toBe(true)
    expect(b.jar.has('_session')).toBe(false)
    const verified = await web(b, '/api/auth/login/verify', {
      mfa_token: first.body.mfa_token,
      code: appCode(secret, t.clock),
    })
    expect(verified.status).toBe(200)
    const { callback, start } = await silently(b, config)
    const claims = (await redeem(config, callback, start)).claims()!
    expect(claims.acr).toBe('mfa')
    expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'mfa']))
  })

  it('a sign-in asked again (prompt=login) can be finished by someone else who signs in at the web UI', async () => {
    const first = await newUser()
    const second = await newUser()
    const config = await consentedApp(first)
    const b = browser(srv.server)
    await webSignIn(b, first)
    const start = await authorizationUrl(config, { scope: 'openid', prompt: 'login' })
    const uid = /\/oidc-interaction\/(.+)$/.exec(location(await b.go(start.url.toString())))![1]!

    // Not the first person after all: the second signs in in this browser and goes on.
    const login = await webSignIn(b, second)
    const token = login.body.access_token as string
    const answer = await web(b, `/api/oidc/interaction/${uid}/login`, {}, token)
    expect(answer.status).toBe(200)
    const next = location(await b.go(answer.body.redirect_to as string))
    expect(next).toMatch(/^\/oidc-interaction\//)
    const view = await b.go(`/api/oidc/interaction/${next.split('/').pop()}`)
    expect(((await view.json()) as { prompt: { name: string } }).prompt.name).toBe('consent')
  })

  it('signing out at an application\'s request ends the Gatehouse session too; "Stay signed in" keeps it', async () => {
    const user = await newUser()
    const config = await consentedApp(user)
    const b = browser(srv.server)
    const login = await webSignIn(b, user)
    const accessToken = login.body.access_token as string
    const { callback, start } = await silently(b, config)
    const idToken = (await redeem(config, callback, start)).id_token!
    const signOut = async (choice: Record<string, string>) => {
      const page = await b.go(oidc.buildEndSessionUrl(config, { id_token_hint: idToken }).href)
      const xsrf = /name="xsrf" value="([^"]+)"/.exec(await page.text())![1]!
      return b.go('/oidc/session/end/confirm', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ xsrf, ...choice }).toString(),
      })
    }
    const me = async () =>
      (await b.go('/api/auth/me', { headers: { authorization: `Bearer ${accessToken}` } })).status

    await signOut({})
    expect(await me()).toBe(200)
    expect((await silently(b, config)).callback.searchParams.get('code')).toBeTruthy()

    await signOut({ logout: 'yes' })
    expect(await me()).toBe(401)
    expect((await web(b, '/api/auth/refresh', {})).status).toBe(401)
    expect((await silently(b, config)).callback.searchParams.get('error')).toBe('login_required')
    const ended = await srv.server.t.services.db
      .selectFrom('audit_events')
      .select('details')
      .where('user_id', '=', user.id)
      .where('event', '=', 'session_ended')
      .execute()
    expect(ended.map((e) => JSON.parse(e.details ?? '{}').reason)).toEqual(['oidc_logout'])
  })
})

const [firstDatabase] = await testDatabases()
describe('single sign-on before any application is registered', () => {
  const srv = useOidcServer(firstDatabase!)
  const newUser = userMaker(srv, 'sso-early')

  it('opens nothing until an application exists; the next cookie refresh opens it', async () => {
    const user = await newUser()
    const b = browser(srv.server)
    expect((await webSignIn(b, user)).status).toBe(200)
    expect(b.jar.has('_session')).toBe(false)

    const config = await configFor(srv.server, await registerClient(srv.server, {}))
    expect((await web(b, '/api/auth/refresh', {})).status).toBe(200)
    expect(b.jar.has('_session')).toBe(true)
    const start = await authorizationUrl(config, { scope: 'openid', prompt: 'none' })
    // Signed on, but this application was never allowed.
    const answer = new URL(location(await b.go(start.url.toString())))
    expect(answer.searchParams.get('error')).toBe('consent_required')
  })
})

describe('single sign-on behind https', () => {
  const fresh = useFreshDatabase(firstDatabase!)

  it('marks the provider cookie Secure when PUBLIC_URL is https, like the refresh cookie', async () => {
    const t = await startApp(fresh.url, { env: { PUBLIC_URL: 'https://auth.example.test' } })
    try {
      await t.services.oidcClients.create(
        { name: 'App', type: 'public', redirectUris: ['https://app.test/callback'] },
        { actorId: null },
      )
      await t.services.accounts.create({
        username: 'secure-sso',
        password: STRONG_PASSWORD,
        roles: ['user'],
      })
      // TLS ends at the proxy: the request itself arrives over plain http.
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/auth/login',
        headers: WEB,
        payload: { username: 'secure-sso', password: STRONG_PASSWORD },
      })
      expect(res.statusCode).toBe(200)
      const lines = ([] as string[]).concat(res.headers['set-cookie'] ?? [])
      for (const name of ['_session=', '_session.sig=', 'gatehouse_refresh='])
        expect(lines.find((l) => l.startsWith(name))).toMatch(/;\s*secure/i)
    } finally {
      await t.close()
    }
  })
})
