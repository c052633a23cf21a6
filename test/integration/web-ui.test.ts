import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testDatabases } from '../support/databases.js'
import { useTestApp } from '../support/harness.js'
import { STRONG_PASSWORD, type Client, type JsonResponse } from '../support/http.js'
import { appCode } from '../support/totp.js'

const databases = await testDatabases()
const WEB = { 'x-gatehouse-client': 'web' }

interface SetCookie {
  name: string
  value: string
  attributes: string[]
}

/** The gatehouse_refresh Set-Cookie of a response, split into its value and attributes. */
function refreshCookieOf(res: JsonResponse<unknown>): SetCookie | undefined {
  const raw = res.headers['set-cookie']
  const all = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]
  const line = all.find((c) => c.startsWith('gatehouse_refresh='))
  if (!line) return undefined
  const [pair, ...attributes] = line.split(/;\s*/)
  const [name, value] = [pair!.slice(0, pair!.indexOf('=')), pair!.slice(pair!.indexOf('=') + 1)]
  return { name, value, attributes: attributes.map((a) => a.toLowerCase()) }
}

function cookieHeader(value: string) {
  return { cookie: `gatehouse_refresh=${value}` }
}

async function register(api: Client, username: string) {
  const res = await api.post('/api/auth/register', { username, password: STRONG_PASSWORD })
  expect(res.status).toBe(201)
}

async function webLogin(api: Client, username: string) {
  const res = await api.call<Record<string, unknown>>('POST', '/api/auth/login', {
    body: { username, password: STRONG_PASSWORD },
    headers: WEB,
  })
  expect(res.status).toBe(200)
  const cookie = refreshCookieOf(res)
  expect(cookie).toBeDefined()
  return { body: res.body, cookie: cookie!.value, res }
}

function webRefresh(api: Client, cookie: string | undefined, body: unknown = {}) {
  return api.call<Record<string, unknown>>('POST', '/api/auth/refresh', {
    body,
    headers: { ...WEB, ...(cookie === undefined ? {} : cookieHeader(cookie)) },
  })
}

describe.each(databases)('cookie mode (SPEC §7) on $name', (database) => {
  const { t, api } = useTestApp(database)

  it('login with the header sets the refresh cookie with exactly the stated attributes and leaves it out of the body', async () => {
    await register(api, 'cookie-login')
    const { body, res } = await webLogin(api, 'cookie-login')
    expect(body).not.toHaveProperty('refresh_token')
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 600 })
    expect(typeof body.access_token).toBe('string')
    expect(res.headers['cache-control']).toBe('no-store')
    const cookie = refreshCookieOf(res)!
    expect(cookie.value).toMatch(/^[A-Za-z0-9_-]{43,}$/)
    expect(cookie.attributes.sort()).toEqual(
      ['httponly', 'max-age=2592000', 'path=/api/auth', 'samesite=strict'].sort(),
    )
  })

  it('login without the header is unchanged: refresh_token in the body, no cookie', async () => {
    await register(api, 'cookie-plain')
    const res = await api.post('/api/auth/login', {
      username: 'cookie-plain',
      password: STRONG_PASSWORD,
    })
    expect(res.status).toBe(200)
    expect(typeof res.body.refresh_token).toBe('string')
    expect(refreshCookieOf(res)).toBeUndefined()
  })

  it('refresh with the header and {} uses the cookie and rotates it', async () => {
    await register(api, 'cookie-refresh')
    const { cookie } = await webLogin(api, 'cookie-refresh')
    const res = await webRefresh(api, cookie)
    expect(res.status).toBe(200)
    expect(res.body).not.toHaveProperty('refresh_token')
    expect(res.headers['cache-control']).toBe('no-store')
    const next = refreshCookieOf(res)!
    expect(next.value).not.toBe(cookie)
    expect(next.attributes).toContain('httponly')
    expect((await api.get('/api/auth/me', res.body.access_token as string)).status).toBe(200)
    // The successor works in turn.
    expect((await webRefresh(api, next.value)).status).toBe(200)
  })

  it('two tabs refreshing with the same cookie at once both stay signed in (grace period)', async () => {
    await register(api, 'cookie-tabs')
    const { cookie } = await webLogin(api, 'cookie-tabs')
    const [a, b] = await Promise.all([webRefresh(api, cookie), webRefresh(api, cookie)])
    expect([a.status, b.status]).toEqual([200, 200])
    // Exactly one successor: both tabs now hold the same cookie.
    expect(refreshCookieOf(a)!.value).toBe(refreshCookieOf(b)!.value)
    expect((await webRefresh(api, refreshCookieOf(a)!.value)).status).toBe(200)
  })

  it('never reads the cookie without the header', async () => {
    await register(api, 'cookie-noheader')
    const { cookie } = await webLogin(api, 'cookie-noheader')
    const refresh = await api.call('POST', '/api/auth/refresh', {
      body: {},
      headers: cookieHeader(cookie),
    })
    expect(refresh.status).toBe(400)
    expect(refresh.body.code).toBe('validation_error')
    const logout = await api.call('POST', '/api/auth/logout', {
      body: {},
      headers: cookieHeader(cookie),
    })
    expect(logout.status).toBe(401)
    expect(logout.body.code).toBe('unauthorized')
    expect(refreshCookieOf(logout)).toBeUndefined()
    // The session lived through both: the cookie still refreshes with the header.
    expect((await webRefresh(api, cookie)).status).toBe(200)
  })

  it('refresh with the header but no cookie is 401 unauthorized; a dead cookie is cleared', async () => {
    const none = await webRefresh(api, undefined)
    expect(none.status).toBe(401)
    expect(none.body.code).toBe('unauthorized')

    const dead = await webRefresh(api, 'x'.repeat(43))
    expect(dead.status).toBe(401)
    expect(dead.body.code).toBe('invalid_token')
    const cleared = refreshCookieOf(dead)!
    expect(cleared.value).toBe('')
    expect(cleared.attributes).toContain('path=/api/auth')

    // Longer than any token: the same dead cookie, not a body.refresh_token it never sent.
    const oversized = await webRefresh(api, 'a'.repeat(5000))
    expect(oversized.status).toBe(401)
    expect(oversized.body.code).toBe('invalid_token')
    expect(refreshCookieOf(oversized)!.value).toBe('')
  })

  /**
   * Regression: a browser's `fetch(url, { method: 'POST', credentials })` sends no body and no
   * content type, and a cookie-mode refresh then answered 400 validation_error instead of using
   * the cookie as `{}` does (SPEC §7).
   */
  it.each([
    ['no body and no content type', 'cookie-nobody', {}],
    ['an empty application/json body', 'cookie-emptyjson', { 'content-type': 'application/json' }],
  ])('refresh and logout with the header and %s act like {}', async (_label, user, headers) => {
    await register(api, user)
    const { cookie } = await webLogin(api, user)
    const refresh = await api.call<Record<string, unknown>>('POST', '/api/auth/refresh', {
      headers: { ...WEB, ...headers, ...cookieHeader(cookie) },
    })
    expect(refresh.status).toBe(200)
    expect(refresh.body).not.toHaveProperty('refresh_token')
    const next = refreshCookieOf(refresh)!
    expect(next.value).not.toBe(cookie)

    const logout = await api.call('POST', '/api/auth/logout', {
      headers: { ...WEB, ...headers, ...cookieHeader(next.value) },
    })
    expect(logout.status).toBe(204)
    expect(refreshCookieOf(logout)!.value).toBe('')
    expect((await webRefresh(api, next.value)).status).toBe(401)
  })

  it.each([
    ['no body and no content type', 'plain-nobody', {}, 'validation_error'],
    [
      'an empty application/json body',
      'plain-emptyjson',
      { 'content-type': 'application/json' },
      'malformed_request',
    ],
  ])('without the header, a refresh with %s is still refused', async (_l, user, headers, code) => {
    await register(api, user)
    const { cookie } = await webLogin(api, user)
    const refresh = await api.call('POST', '/api/auth/refresh', {
      headers: { ...headers, ...cookieHeader(cookie) },
    })
    expect(refresh.status).toBe(400)
    expect(refresh.body.code).toBe(code)
    const logout = await api.call('POST', '/api/auth/logout', {
      headers: { ...headers, ...cookieHeader(cookie) },
    })
    expect(logout.status).toBe(401)
    expect(logout.body.code).toBe('unauthorized')
    expect((await webRefresh(api, cookie)).status).toBe(200)
  })

  it('a body that is not an object stays a validation_error with the header', async () => {
    await register(api, 'cookie-array')
    const { cookie } = await webLogin(api, 'cookie-array')
    const res = await webRefresh(api, cookie, [])
    expect(res.status).toBe(400)
    expect(res.body.code).toBe('validation_error')
  })

  it('logout with the header ends the cookie session and clears the cookie', async () => {
    await register(api, 'cookie-logout')
    const { cookie, body } = await webLogin(api, 'cookie-logout')
    const res = await api.call('POST', '/api/auth/logout', {
      body: {},
      headers: { ...WEB, ...cookieHeader(cookie) },
    })
    expect(res.status).toBe(204)
    const cleared = refreshCookieOf(res)!
    expect(cleared.value).toBe('')
    expect(cleared.attributes).toEqual(
      expect.arrayContaining(['path=/api/auth', 'httponly', 'samesite=strict']),
    )
    expect(
      cleared.attributes.some((a) => a === 'max-age=0' || a.startsWith('expires=thu, 01 jan 1970')),
    ).toBe(true)
    expect((await webRefresh(api, cookie)).status).toBe(401)
    expect((await api.get('/api/auth/me', body.access_token as string)).status).toBe(401)
  })

  it('login/verify with the header answers in cookie mode', async () => {
    await register(api, 'cookie-mfa')
    const first = await webLogin(api, 'cookie-mfa')
    const token = first.body.access_token as string
    const setup = await api.post<{ otpauth_url: string }>(
      '/api/auth/2fa/totp/setup',
      undefined,
      token,
    )
    const enable = await api.post(
      '/api/auth/2fa/totp/enable',
      { code: appCode(setup.body.otpauth_url, t.clock) },
      token,
    )
    expect(enable.status).toBe(200)
    t.clock.advance('30s')

    const step = await api.call<Record<string, unknown>>('POST', '/api/auth/login', {
      body: { username: 'cookie-mfa', password: STRONG_PASSWORD },
      headers: WEB,
    })
    expect(step.body.mfa_required).toBe(true)
    expect(refreshCookieOf(step)).toBeUndefined()
    const verify = await api.call<Record<string, unknown>>('POST', '/api/auth/login/verify', {
      body: { mfa_token: step.body.mfa_token, code: appCode(setup.body.otpauth_url, t.clock) },
      headers: WEB,
    })
    expect(verify.status).toBe(200)
    expect(verify.body).not.toHaveProperty('refresh_token')
    const cookie = refreshCookieOf(verify)!
    expect(cookie.attributes).toContain('samesite=strict')
    expect((await webRefresh(api, cookie.value)).status).toBe(200)
  })
})

describe.each(databases)('hints for the web UI on $name', (database) => {
  const { api } = useTestApp(database, { env: { PASSWORD_MIN_LENGTH: '14' } })

  it('publishes the password length rule from the configuration', async () => {
    const res = await api.get('/api/auth/password-policy')
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ min_length: 14, max_length: 1024 })
  })

  it('tells the caller which permissions its token grants', async () => {
    const username = 'hint-reader'
    const reg = await api.post('/api/auth/register', {
      username,
      password: STRONG_PASSWORD,
    })
    expect(reg.status).toBe(201)
    const login = await api.post('/api/auth/login', { username, password: STRONG_PASSWORD })
    const res = await api.get('/api/auth/me/permissions', login.body.access_token as string)
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ permissions: ['products:read'] })
    expect((await api.get('/api/auth/me/permissions')).status).toBe(401)
  })
})

describe('cookie mode behind https', () => {
  const [sqlite] = databases
  const { api } = useTestApp(sqlite!, {
    env: { PUBLIC_URL: 'https://auth.example.com', REFRESH_TOKEN_TTL: '1d' },
  })

  it('adds Secure and takes Max-Age from REFRESH_TOKEN_TTL', async () => {
    await register(api, 'cookie-secure')
    const { res } = await webLogin(api, 'cookie-secure')
    const cookie = refreshCookieOf(res)!
    expect(cookie.attributes).toContain('secure')
    expect(cookie.attributes).toContain('max-age=86400')
  })
})

describe('the web UI shell and assets', () => {
  const root = mkdtempSync(join(tmpdir(), 'gatehouse-web-'))
  beforeAll(() => {
    mkdirSync(join(root, 'assets'))
    writeFileSync(
      join(root, 'index.html'),
      '<!doctype html><html><head><script type="module" src="/assets/index-AbC123.js"></script></head><body><div id="app"></div></body></html>',
    )
    writeFileSync(join(root, 'assets', 'index-AbC123.js'), 'console.log("app")')
    writeFileSync(join(root, 'assets', 'index-DeF456.css'), 'body{margin:0}')
  })
  afterAll(() => rmSync(root, { recursive: true, force: true }))
  const [sqlite] = databases
  const { api } = useTestApp(sqlite!, { webRoot: root })

  it.each(['/', '/login', '/admin/users', '/products?cursor=abc', '/verify/email'])(
    'answers %s with the app shell, no-cache',
    async (path) => {
      const res = await api.get(path)
      expect(res.status).toBe(200)
      expect(res.headers['content-type']).toMatch(/^text\/html/)
      expect(res.headers['cache-control']).toBe('no-cache')
      expect(res.raw.body).toContain('<div id="app">')
    },
  )

  it('keeps a strict Content Security Policy on the shell', async () => {
    const csp = String((await api.get('/')).headers['content-security-policy'])
    expect(csp).toContain("script-src 'self'")
    expect(csp).not.toContain('unsafe-eval')
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/)
    expect(csp).toContain("frame-ancestors 'none'")
  })

  it('revalidates the shell by ETag', async () => {
    const first = await api.get('/')
    const etag = String(first.headers.etag)
    const again = await api.call('GET', '/', { headers: { 'if-none-match': etag } })
    expect(again.status).toBe(304)
  })

  it('caches hashed assets for a year', async () => {
    const res = await api.get('/assets/index-AbC123.js')
    expect(res.status).toBe(200)
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable')
    expect(res.headers['x-content-type-options']).toBe('nosniff')
    expect(res.raw.body).toBe('console.log("app")')
  })

  it('serves each asset with its type, and revalidates it by ETag', async () => {
    const css = await api.get('/assets/index-DeF456.css')
    expect(css.status).toBe(200)
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8')
    const js = await api.get('/assets/index-AbC123.js')
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8')
    expect(js.headers.etag).toMatch(/^"[\w-]{27}"$/)
    expect(js.headers.etag).not.toBe(css.headers.etag)
    const again = await api.call('GET', '/assets/index-AbC123.js', {
      headers: { 'if-none-match': String(js.headers.etag) },
    })
    expect(again.status).toBe(304)
    expect(again.raw.body).toBe('')
    const head = await api.call('HEAD', '/assets/index-AbC123.js')
    expect(head.status).toBe(200)
    expect(head.headers['content-length']).toBe(String('console.log("app")'.length))
  })

  it('serves the build it started with: a file written later is not served', async () => {
    writeFileSync(join(root, 'assets', 'late-Zz9.js'), 'console.log("late")')
    expect((await api.get('/assets/late-Zz9.js')).status).toBe(404)
  })

  it.each(['/api/nope', '/api', '/assets/missing-123.js', '/favicon.ico', '/.well-known/nope'])(
    'keeps %s a problem+json 404',
    async (path) => {
      const res = await api.get(path)
      expect(res.status).toBe(404)
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
      expect(res.body.code).toBe('not_found')
    },
  )

  it('does not answer other methods with the shell', async () => {
    const res = await api.post('/login', {})
    expect(res.status).toBe(404)
    expect(res.body.code).toBe('not_found')
  })
})
