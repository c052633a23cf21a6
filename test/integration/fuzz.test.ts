import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { testDatabases } from '../support/databases.js'
import { useTestApp } from '../support/harness.js'
import { client, registerAndLogin } from '../support/http.js'
import { apiKey } from '../support/principals.js'

/**
 * Property: whatever a client throws at any route of the OpenAPI document — junk JSON or form
 * bodies, wrong types, odd strings in path parameters, random Authorization, X-API-Key and
 * X-Forwarded-For headers, with or without a valid token or key — the answer is never
 * a 5xx, and every error is problem+json. Runs on every database, since drivers differ in what
 * they choke on (NUL in PostgreSQL text, 4-byte characters in MySQL).
 */
const databases = await testDatabases()

const nastyString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.constantFrom(
    '\u0000',
    '\u0000admin',
    '../../etc/passwd',
    "' or 1=1 --",
    '%00',
    '🔒'.repeat(50),
    'a'.repeat(3000),
    '\ud800',
  ),
)
const junk = fc.oneof(
  fc.jsonValue(),
  fc.dictionary(
    fc.constantFrom(
      'username',
      'password',
      'refresh_token',
      'email',
      'phone',
      'code',
      'otp',
      'current_password',
      'new_password',
      '__proto__',
      'constructor',
      'token',
      'name',
      'roles',
    ),
    fc.oneof(
      nastyString,
      fc.integer(),
      fc.constant(null),
      fc.array(fc.string()),
      fc.boolean(),
      fc.object(),
    ),
  ),
)

/** Any text a header can carry (visible Latin-1 and spaces): HTTP forbids the rest. */
const asHeader = (text: string) => text.replace(/[^\x20-\x7e\xa0-\xff]/g, '').trim() || 'x'

const headerValue = fc.oneof(
  fc.string().map(asHeader),
  fc.ipV4(),
  fc.ipV6(),
  fc
    .array(fc.oneof(fc.ipV4(), fc.ipV6(), fc.constant('unknown')), { minLength: 1 })
    .map((ips) => ips.join(', ')),
  fc.constantFrom('', ' , ', '999.1.1.1', '::ffff:1.2.3.4', '1.2.3.4:80', 'x'.repeat(2000)),
)

function formEncode(body: unknown): string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return String(body)
  return Object.entries(body)
    .map(
      ([k, v]) =>
        `${encodeURIComponent(k)}=${encodeURIComponent((typeof v === 'string' ? v : JSON.stringify(v)).toWellFormed())}`,
    )
    .join('&')
}

describe.each(databases)('fuzzing every route on $name', (database) => {
  // X-Forwarded-For is only read behind a trusted proxy; trust it so junk there is parsed.
  const { t } = useTestApp(database, { env: { TRUST_PROXY: 'true' } })
  let token: string
  let key: string
  let routes: { method: string; path: string }[]

  beforeAll(async () => {
    token = (await registerAndLogin(client(t.app), 'fuzz-user')).access_token
    key = (await apiKey(t, ['totp', 'introspect'], 'fuzz-owner')).key
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      paths: Record<string, Record<string, unknown>>
    }>()
    routes = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops)
        .filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
        .map((method) => ({ method: method.toUpperCase(), path })),
    )
  })

  it('never answers 5xx and always answers errors as problem+json', async () => {
    expect(routes.length).toBeGreaterThan(10)
    // Every route gets its own runs, so none is left to chance.
    for (const [index, route] of routes.entries()) await fuzzRoute(route, index)
  })

  async function fuzzRoute(route: { method: string; path: string }, index: number) {
    await fc.assert(
      fc.asyncProperty(
        junk,
        nastyString,
        fc.constantFrom('none', 'valid', 'garbage', 'other-scheme'),
        fc.constantFrom('none', 'valid', 'garbage'),
        fc.option(headerValue, { nil: undefined }),
        fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain'),
        async (body, param, auth, keyKind, forwardedFor, contentType) => {
          // Logout with a valid token would end the session the other runs rely on.
          if (
            route.path === '/api/auth/logout-all' ||
            (route.path === '/api/auth/logout' && auth === 'valid')
          )
            return
          const url = route.path.replace(/\{[^}]+\}/g, () =>
            encodeURIComponent(param.toWellFormed() || 'x'),
          )
          const headers: Record<string, string> = {}
          if (auth === 'valid') headers.authorization = `Bearer ${token}`
          if (auth === 'garbage')
            headers.authorization = `Bearer ${param.replace(/[^\x21-\x7e]/g, '') || 'x'}`
          if (auth === 'other-scheme') headers.authorization = asHeader(param)
          if (keyKind === 'valid') headers['x-api-key'] = key
          if (keyKind === 'garbage') headers['x-api-key'] = asHeader(param)
          if (forwardedFor !== undefined) headers['x-forwarded-for'] = forwardedFor
          const hasBody = route.method !== 'GET' && route.method !== 'DELETE'
          let payload: string | undefined
          if (hasBody) {
            headers['content-type'] = contentType
            payload = contentType === 'application/json' ? JSON.stringify(body) : formEncode(body)
          }
          const res = await t.app.inject({ method: route.method as 'GET', url, headers, payload })
          if (res.statusCode >= 500)
            throw new Error(`${route.method} ${url} → ${res.statusCode}: ${res.body.slice(0, 200)}`)
          if (res.statusCode >= 400) {
            expect(res.headers['content-type']).toContain('application/problem+json')
            const problem = res.json<Record<string, unknown>>()
            expect(problem.status).toBe(res.statusCode)
            expect(typeof problem.code).toBe('string')
          }
        },
      ),
      { numRuns: 8, seed: 4242 + index },
    )
  }
})
