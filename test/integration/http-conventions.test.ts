import { connect, type AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import { testDatabases } from '../support/databases.js'
import {
  startApp,
  useFreshDatabase,
  useTestApp,
  type StartOptions,
  type TestApp,
} from '../support/harness.js'
import { registerAndLogin, STRONG_PASSWORD } from '../support/http.js'
import { adminWithMfa, apiKey, mfaToken, userWithRoles } from '../support/principals.js'

interface OpenApiOperation {
  requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> }
}

const databases = await testDatabases()

const expectProblem = (
  res: { status: number; headers: Record<string, unknown>; body: unknown },
  status: number,
  code: string,
) => {
  expect(res.status).toBe(status)
  expect(String(res.headers['content-type'])).toContain('application/problem+json')
  expect(res.body).toMatchObject({ status, code })
  const body = res.body as Record<string, unknown>
  for (const member of ['type', 'title', 'status', 'detail', 'code'])
    expect(body).toHaveProperty(member)
}

describe.each(databases)('HTTP conventions on $name', (database) => {
  const { t, api } = useTestApp(database)

  const raw = (payload: string, contentType = 'application/json', url = '/api/auth/register') =>
    t.app.inject({ method: 'POST', url, headers: { 'content-type': contentType }, payload })
  const asJson = (res: Awaited<ReturnType<typeof raw>>) => ({
    status: res.statusCode,
    headers: res.headers,
    body: res.json<unknown>(),
  })

  it('answers an unknown route with 404 problem+json', async () => {
    expectProblem(await api.get('/api/nope'), 404, 'not_found')
  })

  it('answers a known path with another method with 405 and Allow', async () => {
    const res = await api.call('DELETE', '/api/auth/login')
    expectProblem(res, 405, 'method_not_allowed')
    expect(res.headers.allow).toBe('POST')
    expectProblem(await api.call('PUT', '/api/auth/sessions/abc'), 405, 'method_not_allowed')
  })

  // A caller without credentials is told so before anything else, whatever it sent: it learns
  // nothing of a route's schema, and a test of "needs a token" need not send a valid body.
  it('checks credentials and permissions before the body or query', async () => {
    const junk = { junk: 1 }
    expectProblem(await api.post('/api/products', junk), 401, 'unauthorized')
    expectProblem(await api.post('/api/admin/roles', {}), 401, 'unauthorized')
    expectProblem(await api.get('/api/admin/users?limit=0'), 401, 'unauthorized')
    expectProblem(await api.post('/api/auth/2fa/totp/enable', {}), 401, 'unauthorized')
    expectProblem(await api.post('/api/auth/password/change', junk, 'x.y.z'), 401, 'invalid_token')
    expectProblem(await api.post('/api/totp/register', {}), 401, 'unauthorized')
    expectProblem(await api.post('/api/oauth/introspect', {}), 401, 'unauthorized')
    const reader = await userWithRoles(t, api, 'reader-only', ['user'])
    expectProblem(
      await api.call('PUT', '/api/products/nope', { body: junk, token: reader.token }),
      403,
      'forbidden',
    )
    expectProblem(await api.post('/api/admin/roles', {}, reader.token), 403, 'forbidden')
    // With the right credentials, the body is checked as before.
    const admin = await adminWithMfa(t, 'schema-admin')
    expectProblem(await api.post('/api/admin/roles', {}, admin.token), 400, 'validation_error')
  })

  it('takes an empty JSON body as {} where the route requires nothing of it', async () => {
    const { access_token: token } = await registerAndLogin(api, 'empty-bodies')
    const bodiless = (url: string) =>
      t.app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        payload: '',
      })
    expect((await bodiless('/api/auth/2fa/totp/setup')).statusCode).toBe(200)
    expect((await bodiless('/api/auth/logout-all')).statusCode).toBe(204)
    // Where a member is required, an empty body is still no JSON.
    expectProblem(asJson(await bodiless('/api/auth/password/change')), 400, 'malformed_request')
  })

  it('logs request paths without their query, where tokens travel', async () => {
    const secret = 'q7Hc0ffee5ecret7oken9xYz'
    await api.get(`/not-me?token=${secret}`)
    await api.get(`/api/auth/me?access_token=${secret}`)
    await api.get(`/oidc/session/end?id_token_hint=${secret}`)
    const logged = t.logs.join('\n')
    expect(logged).toContain('"url":"/not-me"')
    expect(logged).toContain('"url":"/api/auth/me"')
    expect(logged).not.toContain(secret)
  })

  it('maps malformed JSON, other media types and oversized bodies', async () => {
    expectProblem(asJson(await raw('{"username": ')), 400, 'malformed_request')
    expectProblem(asJson(await raw('', 'application/json')), 400, 'malformed_request')
    expectProblem(asJson(await raw('<x/>', 'application/xml')), 415, 'unsupported_media_type')
    const form = asJson(await raw('username=a', 'application/x-www-form-urlencoded'))
    expectProblem(form, 415, 'unsupported_media_type')
    // The detail says what the route takes: login takes forms too (SPEC §3).
    expect(form.body).toMatchObject({ detail: 'send application/json' })
    expect(asJson(await raw('<x/>', 'application/xml', '/api/auth/login')).body).toMatchObject({
      detail: 'send application/json or application/x-www-form-urlencoded',
    })
    const huge = JSON.stringify({ username: 'x', password: 'y'.repeat(70 * 1024) })
    expectProblem(asJson(await raw(huge)), 413, 'payload_too_large')
  })

  /**
   * Regression: bytes that are not UTF-8 were decoded to U+FFFD and stored so (a name changed
   * silently, and two TOTP subjects that differ only there became one, the second a 409).
   */
  it('refuses a JSON body that is not UTF-8 as malformed, and stores nothing', async () => {
    const bytes = (...parts: (string | number[])[]) =>
      Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))))
    for (const invalid of [[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80]]) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/auth/register',
        headers: { 'content-type': 'application/json' },
        payload: bytes('{"username":"utf8-', invalid, `","password":"${STRONG_PASSWORD}"}`),
      })
      expectProblem(asJson(res), 400, 'malformed_request')
      expect(res.json()).toMatchObject({ detail: 'the request body is not valid UTF-8' })
    }
    const users = await t.services.db
      .selectFrom('users')
      .select('username')
      .where('username', 'like', 'utf8-%')
      .execute()
    expect(users).toEqual([])
    // Valid multi-byte text still goes through.
    const fine = await raw(
      JSON.stringify({ username: 'utf8-fine', password: `${STRONG_PASSWORD} ünï 😀` }),
    )
    expect(fine.statusCode).toBe(201)
  })

  /**
   * Regression: only JSON (and forms on the two routes SPEC allows them) is a body type; a
   * text/plain body reached the schema through Fastify's default text parser and answered
   * 400 validation_error instead of 415 on most routes.
   */
  it('answers 415 to every other body content type on every route of the OpenAPI document', async () => {
    const doc = await api.get<{ paths: Record<string, Record<string, unknown>> }>('/openapi.json')
    const formRoutes = new Set(['/api/auth/login', '/api/auth/refresh', '/api/oauth/introspect'])
    const routes = Object.entries(doc.body.paths).flatMap(([path, ops]) =>
      Object.keys(ops)
        .filter((m) => ['post', 'put', 'patch', 'delete'].includes(m))
        .map((method) => ({ method: method.toUpperCase() as 'POST', path })),
    )
    expect(routes.length).toBeGreaterThan(20)
    const wrongTypes = [
      'text/plain',
      'text/plain; charset=utf-8',
      'application/xml',
      'application/octet-stream',
      'multipart/form-data; boundary=x',
    ]
    const misses: string[] = []
    for (const { method, path } of routes) {
      const url = path.replace(/\{[^}]+\}/g, 'x')
      const types = formRoutes.has(path)
        ? wrongTypes
        : [...wrongTypes, 'application/x-www-form-urlencoded']
      for (const contentType of types) {
        const res = await t.app.inject({
          method,
          url,
          headers: { 'content-type': contentType },
          payload: 'username=a&password=b',
        })
        if (
          res.statusCode !== 415 ||
          res.json<{ code: string }>().code !== 'unsupported_media_type'
        )
          misses.push(`${method} ${path} ${contentType} → ${res.statusCode}`)
      }
    }
    expect(misses).toEqual([])
    // The form type stays accepted where SPEC §3 and §4.10 allow it.
    const form = await raw(
      'username=nobody&password=wrong',
      'application/x-www-form-urlencoded',
      '/api/auth/login',
    )
    expectProblem(asJson(form), 401, 'invalid_credentials')
    const introspect = await raw(
      'token=x',
      'application/x-www-form-urlencoded',
      '/api/oauth/introspect',
    )
    expectProblem(asJson(introspect), 401, 'unauthorized')
  })

  it.each([
    ['an array', '[]'],
    ['a string', '"hello"'],
    ['null', 'null'],
    ['a number', '42'],
    ['null fields', '{"username": null, "password": null}'],
    ['nested objects', '{"username": {"$gt": ""}, "password": "x"}'],
  ])('rejects %s as validation_error before anything else', async (_label, body) => {
    expectProblem(asJson(await raw(body)), 400, 'validation_error')
    expectProblem(
      asJson(await raw(body, 'application/json', '/api/auth/login')),
      400,
      'validation_error',
    )
  })

  /**
   * Regression: logout and passkey/options filled in `{}` for a bodiless request with `??=`,
   * which also swallowed a JSON `null`; logout then looked for a token and answered 401
   * unauthorized instead of validation_error (SPEC §3: valid JSON that is not an object).
   */
  it('answers validation_error to a non-object JSON body on every route that takes a body', async () => {
    const admin = await adminWithMfa(t, 'non-object-admin')
    const key = (await apiKey(t, ['totp', 'introspect'], 'non-object-owner')).key
    const doc = await api.get<{ paths: Record<string, Record<string, OpenApiOperation>> }>(
      '/openapi.json',
    )
    const misses: string[] = []
    let checked = 0
    for (const [path, ops] of Object.entries(doc.body.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        if (!['post', 'put', 'patch'].includes(method)) continue
        if (op.requestBody?.content?.['application/json'] === undefined) continue
        checked++
        for (const payload of ['null', '[]', '"x"', '42']) {
          // A fresh session each time: a route that wrongly goes ahead may end the one it got.
          const headers = {
            authorization: `Bearer ${await mfaToken(t, admin.id)}`,
            'x-api-key': key,
            'content-type': 'application/json',
          }
          const res = await t.app.inject({
            method: method.toUpperCase() as 'POST',
            url: path.replace(/\{[^}]+\}/g, 'x'),
            headers,
            payload,
          })
          if (res.statusCode !== 400 || res.json<{ code?: string }>().code !== 'validation_error')
            misses.push(`${method} ${path} ${payload} → ${res.statusCode} ${res.body}`)
        }
      }
    }
    expect(checked).toBeGreaterThan(20)
    expect(misses).toEqual([])
    // A bodiless logout with a Bearer token still ends the session.
    const { access_token: token } = await registerAndLogin(api, 'bodiless-logout')
    const bodiless = await t.app.inject({
      method: 'POST',
      url: '/api/auth/logout',
      headers: { authorization: `Bearer ${token}` },
    })
    expect(bodiless.statusCode).toBe(204)
  })

  it('ignores __proto__ and constructor keys and unknown members, storing none of them', async () => {
    const res = await raw(
      JSON.stringify({
        username: 'proto-user',
        password: STRONG_PASSWORD,
        is_admin: true,
        roles: ['admin'],
      }).replace(
        '{',
        '{"__proto__": {"roles": ["admin"]}, "constructor": {"prototype": {"x": 1}}, ',
      ),
    )
    expect(res.statusCode).toBe(201)
    expect(res.json<{ user: { roles: string[] } }>().user.roles).toEqual(['user'])
    expect(({} as Record<string, unknown>).roles).toBeUndefined()
  })

  it('refuses NUL and control characters without a 5xx and without writing anything', async () => {
    for (const username of ['nul\u0000user', 'tab\tuser', 'line\nuser']) {
      expectProblem(
        await api.post('/api/auth/register', { username, password: STRONG_PASSWORD }),
        400,
        'validation_error',
      )
    }
    const login = await api.post('/api/auth/login', {
      username: 'nul\u0000user',
      password: 'x\u0000y',
    })
    expectProblem(login, 400, 'validation_error')
    const control = await api.post('/api/auth/login', {
      username: 'tab\tuser',
      password: 'whatever it is',
    })
    expectProblem(control, 401, 'invalid_credentials')
    const users = await t.services.db.selectFrom('users').select('username').execute()
    expect(users.some((u) => u.username.includes('user') && /\p{Cc}/u.test(u.username))).toBe(false)
  })

  /**
   * Regression: the fuzz suite found that DELETE /api/auth/sessions/%00 reached PostgreSQL,
   * which refuses NUL in text, and answered 500.
   */
  it('refuses NUL in path parameters and nested body fields with 400, not 500, and finds no route for it', async () => {
    const tokens = await api.post<{ access_token: string }>('/api/auth/login', {
      username: 'proto-user',
      password: STRONG_PASSWORD,
    })
    const res = await api.delete('/api/auth/sessions/%00', tokens.body.access_token)
    expectProblem(res, 400, 'validation_error')
    const nested = await api.post('/api/auth/refresh', {
      refresh_token: 'abc\u0000def',
      extra: { deep: ['\u0000'] },
    })
    expectProblem(nested, 400, 'validation_error')
    expect(nested.body).toMatchObject({ detail: expect.stringContaining('body.') as unknown })
    // A path that names no route is not found, NUL or not.
    expectProblem(await api.get('/api/auth/me%00'), 404, 'not_found')
    expectProblem(await api.get('/api/auth/%00'), 404, 'not_found')
  })

  /**
   * Regression: POST /api/totp/register with the username "\ud800" (a lone UTF-16 surrogate,
   * legal in JSON text) answered 500: such a string has no UTF-8 form, so drivers, hashes and
   * the QR encoder fail on it. Every string field of every route is now refused up front.
   */
  it('refuses lone surrogates in every string field of every route with 400 naming the field', async () => {
    const admin = await adminWithMfa(t, 'surrogate-admin')
    const key = (await apiKey(t, ['totp', 'introspect'], 'surrogate-owner')).key
    const headers = { authorization: `Bearer ${admin.token}`, 'x-api-key': key }
    expectProblem(
      await api.call('POST', '/api/totp/register', { body: { username: '\ud800' }, headers }),
      400,
      'validation_error',
    )
    const doc = await api.get<{ paths: Record<string, Record<string, OpenApiOperation>> }>(
      '/openapi.json',
    )
    const misses: string[] = []
    for (const [path, ops] of Object.entries(doc.body.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        if (!['post', 'put', 'patch'].includes(method)) continue
        const properties = op.requestBody?.content?.['application/json']?.schema?.properties ?? {}
        const fields = Object.keys(properties)
        for (const field of fields.length > 0 ? fields : ['unknown_member']) {
          for (const bad of ['\ud800', 'a\udfffb', 'x\udbff']) {
            const res = await api.call(
              method.toUpperCase() as 'POST',
              path.replace(/\{[^}]+\}/g, 'x'),
              {
                body: { [field]: bad },
                headers,
              },
            )
            const problem = res.body as { code?: string; detail?: string }
            if (
              res.status !== 400 ||
              problem.code !== 'validation_error' ||
              !problem.detail?.startsWith(`body.${field}:`)
            )
              misses.push(`${method} ${path} ${field} → ${res.status} ${JSON.stringify(res.body)}`)
          }
        }
      }
    }
    expect(misses).toEqual([])
    // A surrogate pair (an astral character) is well-formed and passes the guard.
    const astral = await api.call('POST', '/api/totp/register', {
      body: { username: 'lock-🔒' },
      headers,
    })
    expect(astral.status).toBeLessThan(500)
    expectProblem(
      await api.get('/api/admin/users?cursor=%ED%A0%80', admin.token),
      400,
      'validation_error',
    )
  })

  it('answers over-long and badly encoded URLs as problem+json', async () => {
    expectProblem(await api.delete(`/api/auth/sessions/${'a'.repeat(3000)}`), 404, 'not_found')
    expectProblem(await api.get('/api/auth/sessions/%E0%A4%A'), 400, 'malformed_request')
  })

  it('sets security headers: the full set on pages, a JSON response set on the API', async () => {
    const page = await api.get('/some/page')
    expect(page.headers['x-content-type-options']).toBe('nosniff')
    expect(page.headers['content-security-policy']).toContain("default-src 'self'")
    // PUBLIC_URL is plain http here: upgrading requests to https would break every asset.
    expect(page.headers['content-security-policy']).not.toContain('upgrade-insecure-requests')
    expect(page.headers['x-frame-options']).toBe('SAMEORIGIN')

    for (const url of [
      '/healthz',
      '/api/auth/me',
      '/.well-known/jwks.json',
      // Answered by the OpenID provider on a hijacked reply: the headers still go out.
      '/.well-known/openid-configuration',
      '/api/no-such-thing',
    ]) {
      const res = await api.get(url)
      expect(res.headers['content-security-policy'], url).toBe(
        "default-src 'none'; frame-ancestors 'none'",
      )
      expect(res.headers['x-frame-options'], url).toBe('DENY')
      expect(res.headers['x-content-type-options'], url).toBe('nosniff')
      expect(res.headers['referrer-policy'], url).toBe('no-referrer')
      expect(res.headers['strict-transport-security'], url).toMatch(/^max-age=\d+/)
      expect(res.headers['cross-origin-resource-policy'], url).toBe('same-origin')
      expect(res.headers['x-dns-prefetch-control'], url).toBeUndefined()
    }
  })

  it('serves health, readiness and Prometheus metrics', async () => {
    expect((await api.get('/healthz')).body).toEqual({ status: 'ok' })
    const ready = await api.get('/readyz')
    expect(ready.status).toBe(200)
    expect(ready.body).toEqual({ status: 'ok', database: 'ok', redis: 'disabled' })
    await api.post('/api/auth/login', { username: 'nobody', password: 'whatever it is' })
    const metrics = await t.app.inject({ method: 'GET', url: '/metrics' })
    expect(metrics.statusCode).toBe(200)
    expect(metrics.body).toContain(
      'gatehouse_http_requests_total{method="POST",route="/api/auth/login",status="401"}',
    )
    expect(metrics.body).toContain('gatehouse_http_request_duration_seconds_bucket')
    expect(metrics.body).toContain('gatehouse_logins_total')
  })

  it('publishes an OpenAPI document built from the route schemas, and Swagger UI', async () => {
    const doc = await api.get<{ openapi: string; paths: Record<string, Record<string, unknown>> }>(
      '/openapi.json',
    )
    expect(doc.status).toBe(200)
    expect(doc.body.openapi).toMatch(/^3\./)
    expect(doc.body.paths['/api/auth/login']).toHaveProperty('post')
    expect(doc.body.paths['/api/auth/me']).toHaveProperty('get')
    const ui = await t.app.inject({ method: 'GET', url: '/docs/' })
    expect(ui.statusCode).toBe(200)
    expect(ui.headers['content-type']).toContain('text/html')
  })
})

/** What a raw client reads back: the status line and headers, then the body as JSON. */
async function exchange(port: number, request: string) {
  const socket = connect(port, '127.0.0.1')
  const text = await new Promise<string>((resolve) => {
    let received = ''
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')))
    socket.on('error', () => undefined)
    socket.on('close', () => resolve(received))
    socket.write(request)
  })
  const [head = '', body = ''] = text.split('\r\n\r\n', 2)
  return { head, body: JSON.parse(body || 'null') as unknown }
}

/** Runs `use` against an app listening on a free port of 127.0.0.1, then closes it. */
async function onRealPort(
  url: string,
  use: (port: number, t: TestApp) => Promise<void>,
  opts: StartOptions = {},
): Promise<void> {
  const t = await startApp(url, opts)
  try {
    await t.app.listen({ host: '127.0.0.1', port: 0 })
    await use((t.app.server.address() as AddressInfo).port, t)
  } finally {
    await t.close()
  }
}

const expectRawProblem = (
  answer: { head: string; body: unknown },
  status: number,
  code: string,
) => {
  expect(answer.head).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `))
  // The same header as every other problem: a client matching it exactly sees no difference.
  expect(answer.head.toLowerCase()).toContain(
    'content-type: application/problem+json; charset=utf-8\r\n',
  )
  expect(answer.body).toMatchObject({ status, code })
  for (const member of ['type', 'title', 'status', 'detail', 'code'])
    expect(answer.body).toHaveProperty(member)
  // Not Fastify's default shape, which SPEC §3 does not know.
  expect(answer.body).not.toHaveProperty('statusCode')
}

/**
 * Regression: requests Node's HTTP parser refuses before Fastify sees them (a malformed request
 * line, headers over Node's limit, a timeout) were answered with Fastify's default
 * `{error, message, statusCode}` JSON instead of SPEC §3 problem+json.
 */
describe('a request the HTTP parser refuses', () => {
  const fresh = useFreshDatabase(databases[0]!)

  it('is answered as problem+json with the parser status and a SPEC code', async () => {
    await onRealPort(fresh.url, async (port, t) => {
      expectRawProblem(await exchange(port, 'this is not http\r\n\r\n'), 400, 'malformed_request')
      // Node's limit on the header block is 16 KiB; this one carries a token-like header.
      const secret = 'Bearer ' + 'x'.repeat(20 * 1024)
      expectRawProblem(
        await exchange(
          port,
          `GET /healthz HTTP/1.1\r\nHost: gatehouse\r\nAuthorization: ${secret}\r\n\r\n`,
        ),
        431,
        'payload_too_large',
      )
      expect(t.logs.join('\n')).not.toContain('xxxxxxxx')
      // The server is unharmed: the next request is answered as usual.
      const next = await exchange(
        port,
        'GET /healthz HTTP/1.1\r\nHost: gatehouse\r\nConnection: close\r\n\r\n',
      )
      expect(next.head).toMatch(/^HTTP\/1\.1 200 /)
    })
  })
})

/** Regression: Node closed a CONNECT (a proxy tunnel request) without any answer. */
describe('a CONNECT request', () => {
  const fresh = useFreshDatabase(databases[0]!)

  it('is answered 405 method_not_allowed, naming the methods there are', async () => {
    await onRealPort(fresh.url, async (port) => {
      const answer = await exchange(
        port,
        'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
      )
      expectRawProblem(answer, 405, 'method_not_allowed')
      expect(answer.head).toMatch(/\r\nAllow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS(\r\n|$)/)
    })
  })
})

describe('a client that sends its request slowly', () => {
  const fresh = useFreshDatabase(databases[0]!)

  it('is answered 408 and disconnected once the request timeout has passed', async () => {
    await onRealPort(
      fresh.url,
      async (port) => {
        // The headers promise 100 bytes of body; only a few ever come.
        const answer = await exchange(
          port,
          'POST /api/auth/login HTTP/1.1\r\nHost: gatehouse\r\n' +
            'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"user',
        )
        expectRawProblem(answer, 408, 'malformed_request')
      },
      { requestTimeoutMs: 300 },
    )
  })
})

describe('a client that leaves in the middle of its body', () => {
  const fresh = useFreshDatabase(databases[0]!)

  it('is not taken for a database outage', async () => {
    await onRealPort(fresh.url, async (port, t) => {
      // Node reports the cut-short body as ECONNRESET "aborted", the code a lost database
      // connection has too.
      const socket = connect(port, '127.0.0.1')
      socket.on('error', () => undefined)
      socket.end(
        'POST /api/auth/login HTTP/1.1\r\nHost: gatehouse\r\n' +
          'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"username"',
      )
      try {
        await expect
          .poll(() => t.logs.join('\n'), { timeout: 10_000 })
          .toMatch(/left before sending the whole request|database unreachable/)
        expect(t.logs.join('\n')).not.toContain('database unreachable')
      } finally {
        socket.destroy()
      }
    })
  })
})
