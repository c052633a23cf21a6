import { beforeAll, describe, expect, it } from 'vitest'
import { testDatabases } from '../support/databases.js'
import { useTestApp } from '../support/harness.js'

/**
 * Regression: preflights from an allowed origin answered `Access-Control-Allow-Methods:
 * GET,HEAD,POST` (the plugin's default), so a browser app on another origin could call no
 * PUT, PATCH or DELETE route, and could not read `Retry-After` or `WWW-Authenticate`.
 * SPEC §2 CORS_ORIGINS: every method the API uses is allowed, both headers are exposed.
 */
const databases = await testDatabases()
const allowed = 'https://app.example'

describe.each(databases)('CORS on $name', (database) => {
  const { t } = useTestApp(database, { env: { CORS_ORIGINS: `${allowed},https://other.example` } })
  let routes: { method: string; path: string }[]

  beforeAll(async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      paths: Record<string, Record<string, unknown>>
    }>()
    routes = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops)
        .filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
        .map((method) => ({ method: method.toUpperCase(), path: path.replace(/\{[^}]+\}/g, 'x') })),
    )
  })

  const preflight = (url: string, origin: string, method: string) =>
    t.app.inject({
      method: 'OPTIONS',
      url,
      headers: {
        origin,
        'access-control-request-method': method,
        'access-control-request-headers': 'authorization, content-type, x-api-key',
      },
    })

  it('allows every method of every route to an allowed origin', async () => {
    expect(routes.map((r) => r.method)).toEqual(
      expect.arrayContaining(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']),
    )
    for (const { method, path } of routes) {
      const res = await preflight(path, allowed, method)
      expect(res.statusCode, `${method} ${path}`).toBe(204)
      expect(res.headers['access-control-allow-origin']).toBe(allowed)
      expect(res.headers['access-control-allow-credentials']).toBe('true')
      const methods = String(res.headers['access-control-allow-methods']).split(/\s*,\s*/)
      expect(methods).toEqual(
        expect.arrayContaining(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']),
      )
      expect(String(res.headers['access-control-allow-headers']).toLowerCase()).toContain(
        'authorization',
      )
    }
  })

  it('gives a disallowed origin no allow headers', async () => {
    for (const method of ['GET', 'DELETE', 'PATCH']) {
      const res = await preflight('/api/auth/sessions/x', 'https://evil.example', method)
      expect(res.headers['access-control-allow-origin']).toBeUndefined()
      expect(res.headers['access-control-allow-credentials']).toBeUndefined()
      // Refused as what it is, not as a 405 that points its developer at the method.
      expect(res.statusCode).toBe(403)
      expect(res.json()).toMatchObject({ code: 'forbidden' })
      expect(res.json().detail).toContain('CORS_ORIGINS')
    }
    const actual = await t.app.inject({
      method: 'GET',
      url: '/api/auth/me',
      headers: { origin: 'https://evil.example' },
    })
    expect(actual.headers['access-control-allow-origin']).toBeUndefined()
  })

  it('answers an OPTIONS that is no preflight without a text/plain error', async () => {
    const res = await t.app.inject({
      method: 'OPTIONS',
      url: '/api/auth/login',
      headers: { origin: allowed },
    })
    expect(res.statusCode).toBe(204)
    expect(res.headers['access-control-allow-origin']).toBe(allowed)
  })

  it('exposes Retry-After and WWW-Authenticate on actual responses', async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: '/api/auth/me',
      headers: { origin: allowed },
    })
    expect(res.statusCode).toBe(401)
    expect(res.headers['www-authenticate']).toBe('Bearer')
    expect(res.headers['access-control-allow-origin']).toBe(allowed)
    const exposed = String(res.headers['access-control-expose-headers'])
      .toLowerCase()
      .split(/\s*,\s*/)
    expect(exposed).toEqual(expect.arrayContaining(['retry-after', 'www-authenticate']))
  })
})
