import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { testDatabases } from '../support/databases.js'
import { useTestApp } from '../support/harness.js'
import { client, registerAndLogin } from '../support/http.js'

/**
 * Property: whatever a client throws at any route of the OpenAPI document — junk JSON, wrong
 * types, odd strings in path parameters, with or without a valid token — the answer is never
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
  const { t } = useTestApp(database)
  let token: string
  let routes: { method: string; path: string }[]

  beforeAll(async () => {
    token = (await registerAndLogin(client(t.app), 'fuzz-user')).access_token
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
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: 10_000 }),
        junk,
        nastyString,
        fc.constantFrom('none', 'valid', 'garbage'),
        fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain'),
        async (pick, body, param, auth, contentType) => {
          const route = routes[pick % routes.length]!
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
      { numRuns: 400, seed: 4242 },
    )
  })
})
