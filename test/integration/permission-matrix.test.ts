import { beforeAll, describe, expect, it } from 'vitest'
import { testDatabases } from '../support/databases.js'
import { useTestApp } from '../support/harness.js'
import { apiKey, mfaToken, userWithRoles } from '../support/principals.js'

/**
 * Every protected route × every kind of caller → the status that caller must get. A change to
 * a guard that opens (or closes) a door shows up here as one changed cell.
 */
const databases = await testDatabases()

type Principal =
  | 'anonymous'
  | 'user'
  | 'editor'
  | 'admin without MFA'
  | 'admin with MFA'
  | 'API key totp'
  | 'API key introspect'
type Guard = 'admin' | 'products:read' | 'products:write' | 'totp' | 'introspect' | 'bearer'

const principals: Principal[] = [
  'anonymous',
  'user',
  'editor',
  'admin without MFA',
  'admin with MFA',
  'API key totp',
  'API key introspect',
]

interface Fixtures {
  userId: string
  productId: string
  unique: () => string
}

interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  path: (f: Fixtures) => string
  label: string
  guard: Guard
  /** What a caller who passes the guard gets. */
  ok: number
  body?: (f: Fixtures) => unknown
}

const route = (
  method: Route['method'],
  label: string,
  guard: Guard,
  ok: number,
  path: Route['path'] = () => label,
  body?: Route['body'],
): Route => ({ method, label, guard, ok, path, body })

const routes: Route[] = [
  route('GET', '/api/admin/users', 'admin', 200),
  route('GET', '/api/admin/users/:id', 'admin', 200, (f) => `/api/admin/users/${f.userId}`),
  route(
    'PATCH',
    '/api/admin/users/:id',
    'admin',
    200,
    (f) => `/api/admin/users/${f.userId}`,
    () => ({}),
  ),
  route('DELETE', '/api/admin/users/:id', 'admin', 404, () => '/api/admin/users/missing'),
  route(
    'POST',
    '/api/admin/users/:id/reset-mfa',
    'admin',
    204,
    (f) => `/api/admin/users/${f.userId}/reset-mfa`,
  ),
  route('GET', '/api/admin/roles', 'admin', 200),
  route('POST', '/api/admin/roles', 'admin', 201, undefined, (f) => ({
    name: `r-${f.unique()}`,
    permissions: [],
  })),
  route('GET', '/api/admin/audit-log', 'admin', 200),
  route('GET', '/api/admin/api-keys', 'admin', 200),
  route('POST', '/api/admin/api-keys', 'admin', 201, undefined, () => ({
    name: 'matrix',
    scopes: ['totp'],
  })),
  route('DELETE', '/api/admin/api-keys/:id', 'admin', 404, () => '/api/admin/api-keys/missing'),
  route('GET', '/api/products', 'products:read', 200),
  route('GET', '/api/products/:id', 'products:read', 200, (f) => `/api/products/${f.productId}`),
  route('POST', '/api/products', 'products:write', 201, undefined, () => ({
    name: 'm',
    price: 1,
    quantity: 1,
  })),
  route(
    'PUT',
    '/api/products/:id',
    'products:write',
    200,
    (f) => `/api/products/${f.productId}`,
    () => ({
      name: 'm',
      price: 1,
      quantity: 1,
    }),
  ),
  route('DELETE', '/api/products/:id', 'products:write', 404, () => '/api/products/missing'),
  route('POST', '/api/totp/register', 'totp', 201, undefined, (f) => ({
    username: `s-${f.unique()}`,
  })),
  route('POST', '/api/totp/verify', 'totp', 404, undefined, () => ({
    username: 'missing',
    otp: '123456',
  })),
  route('GET', '/api/totp/:username', 'totp', 404, () => '/api/totp/missing'),
  route('DELETE', '/api/totp/:username', 'totp', 404, () => '/api/totp/missing'),
  route('POST', '/api/oauth/introspect', 'introspect', 200, undefined, () => ({ token: 'x' })),
  route('GET', '/api/auth/me', 'bearer', 200),
  route('GET', '/api/auth/sessions', 'bearer', 200),
]

/** The expected status and problem code of one cell. */
function expected(r: Route, p: Principal): { status: number; code?: string } {
  const isKey = p.startsWith('API key')
  if (r.guard === 'totp' || r.guard === 'introspect') {
    if (!isKey) return { status: 401, code: 'unauthorized' }
    return p === `API key ${r.guard}` ? { status: r.ok } : { status: 403, code: 'forbidden' }
  }
  if (p === 'anonymous' || isKey) return { status: 401, code: 'unauthorized' }
  if (r.guard === 'bearer') return { status: r.ok }
  // Admins here hold only `admin`: every permission they have comes from an MFA-bound role.
  if (p === 'admin without MFA') return { status: 403, code: 'mfa_required' }
  if (p === 'admin with MFA') return { status: r.ok }
  const granted =
    (r.guard === 'products:read' && (p === 'user' || p === 'editor')) ||
    (r.guard === 'products:write' && p === 'editor')
  return granted ? { status: r.ok } : { status: 403, code: 'forbidden' }
}

describe.each(databases)('permission matrix on $name', (database) => {
  const { t, api } = useTestApp(database)
  let fixtures: Fixtures
  const headers = new Map<Principal, Record<string, string>>()

  beforeAll(async () => {
    await t.services.roleAdmin.create(
      { name: 'editor', permissions: ['products:read', 'products:write'] },
      { actorId: null },
    )
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
    headers.set('anonymous', {})
    headers.set('user', bearer((await userWithRoles(t, api, 'm-user', ['user'])).token))
    headers.set('editor', bearer((await userWithRoles(t, api, 'm-editor', ['editor'])).token))
    const admin = await userWithRoles(t, api, 'm-admin', ['admin'])
    headers.set('admin without MFA', bearer(admin.token))
    headers.set('admin with MFA', bearer(await mfaToken(t, admin.id)))
    headers.set('API key totp', { 'x-api-key': (await apiKey(t, ['totp'])).key })
    headers.set('API key introspect', { 'x-api-key': (await apiKey(t, ['introspect'])).key })
    const target = await t.services.accounts.create({ username: 'm-target' })
    const product = await t.services.products.create({ name: 'p', price: 1, quantity: 1 })
    let n = 0
    fixtures = { userId: target, productId: product.id, unique: () => String(n++) }
  })

  const cells = routes.flatMap((r) =>
    principals.map((p) => ({ r, p, name: `${r.method} ${r.label} as ${p}` })),
  )

  it.each(cells)('$name', async ({ r, p }) => {
    const want = expected(r, p)
    const res = await api.call(r.method, r.path(fixtures), {
      headers: headers.get(p)!,
      body: r.body?.(fixtures),
    })
    expect({
      status: res.status,
      code: want.code === undefined ? undefined : res.body.code,
    }).toEqual(want)
  })
})
