import { beforeAll, describe, expect, it } from 'vitest'
import { testDatabases } from '../support/databases.js'
import { useTestApp } from '../support/harness.js'
import { adminWithMfa, userWithRoles } from '../support/principals.js'

const databases = await testDatabases()

interface Product {
  id: string
  name: string
  description: string
  price: number
  quantity: number
  created_at: string
  updated_at: string
}

describe.each(databases)('products on $name', (database) => {
  const { t, api } = useTestApp(database)
  let editor: string
  let reader: string

  beforeAll(async () => {
    const admin = await adminWithMfa(t, 'products-admin')
    const role = await api.call('POST', '/api/admin/roles', {
      token: admin.token,
      body: { name: 'editor', permissions: ['products:read', 'products:write'] },
    })
    expect(role.status).toBe(201)
    editor = (await userWithRoles(t, api, 'eddie-editor', ['editor'])).token
    reader = (await userWithRoles(t, api, 'rita-reader', ['user'])).token
  })

  const create = (body: unknown, token = editor) =>
    api.call<Product & { code?: string; detail?: string }>('POST', '/api/products', { token, body })

  it('creates, reads, replaces and deletes a product', async () => {
    const created = await create({
      name: 'Widget',
      description: 'A widget',
      price: 19.99,
      quantity: 3,
    })
    expect(created.status).toBe(201)
    expect(created.body).toEqual({
      id: expect.any(String),
      name: 'Widget',
      description: 'A widget',
      price: 19.99,
      quantity: 3,
      created_at: '2026-01-01T00:00:00.000Z',
      updated_at: '2026-01-01T00:00:00.000Z',
    })
    const id = created.body.id
    const read = await api.call<Product>('GET', `/api/products/${id}`, { token: reader })
    expect(read.status).toBe(200)
    expect(read.body).toEqual(created.body)

    t.clock.advance('1m')
    const replaced = await api.call<Product>('PUT', `/api/products/${id}`, {
      token: editor,
      body: { name: 'Widget 2', price: 0.1, quantity: 0 },
    })
    expect(replaced.status).toBe(200)
    expect(replaced.body).toMatchObject({
      name: 'Widget 2',
      description: '',
      price: 0.1,
      quantity: 0,
    })
    expect(replaced.body.updated_at).toBe('2026-01-01T00:01:00.000Z')
    expect(replaced.body.created_at).toBe(created.body.created_at)

    expect((await api.call('DELETE', `/api/products/${id}`, { token: editor })).status).toBe(204)
    expect((await api.call('GET', `/api/products/${id}`, { token: reader })).status).toBe(404)
    expect((await api.call('DELETE', `/api/products/${id}`, { token: editor })).status).toBe(404)
    const put = await api.call('PUT', `/api/products/${id}`, {
      token: editor,
      body: { name: 'x', price: 1, quantity: 1 },
    })
    expect(put.status).toBe(404)
  })

  it.each([0, 0.01, 0.1, 0.3, 1.1, 19.99, 1234567.89, 99.9, 1e3, 999999999999.99])(
    'stores the price %d exactly',
    async (price) => {
      const created = await create({ name: `Priced ${price}`, price, quantity: 1 })
      expect(created.status).toBe(201)
      expect(created.body.price).toBe(price)
      const row = await t.services.db
        .selectFrom('products')
        .select('price_cents')
        .where('id', '=', created.body.id)
        .executeTakeFirstOrThrow()
      expect(Number(row.price_cents)).toBe(Math.round(price * 100))
      const read = await api.call<Product>('GET', `/api/products/${created.body.id}`, {
        token: reader,
      })
      expect(read.body.price).toBe(price)
    },
  )

  it.each([
    [{ name: 'p', price: -1, quantity: 1 }, 'price'],
    [{ name: 'p', price: 1.999, quantity: 1 }, 'price'],
    [{ name: 'p', price: 0.001, quantity: 1 }, 'price'],
    [{ name: 'p', price: '1e309', quantity: 1 }, 'price'],
    [{ name: 'p', price: '19.99', quantity: 1 }, 'price'],
    [{ name: 'p', price: null, quantity: 1 }, 'price'],
    [{ name: 'p', price: 1e15, quantity: 1 }, 'price'],
    [{ name: 'p', quantity: 1 }, 'price'],
    [{ name: 'p', price: 1, quantity: -1 }, 'quantity'],
    [{ name: 'p', price: 1, quantity: 1.5 }, 'quantity'],
    [{ name: 'p', price: 1, quantity: '3' }, 'quantity'],
    [{ name: '', price: 1, quantity: 1 }, 'name'],
    [{ price: 1, quantity: 1 }, 'name'],
  ])('refuses %j with validation_error naming %s', async (body, field) => {
    const before = await t.services.db.selectFrom('products').select('id').execute()
    const res = await create(body)
    expect(res.status).toBe(400)
    expect(res.body.code).toBe('validation_error')
    expect(res.body.detail).toContain(field)
    const after = await t.services.db.selectFrom('products').select('id').execute()
    expect(after).toHaveLength(before.length)
  })

  it('refuses a price of 1e309 written as a JSON number', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/products',
      headers: { authorization: `Bearer ${editor}`, 'content-type': 'application/json' },
      payload: '{"name":"huge","price":1e309,"quantity":1}',
    })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ code: 'validation_error' })
  })

  it('pages the list with a cursor and refuses a tampered one', async () => {
    for (let i = 0; i < 5; i++) {
      t.clock.advance('1s')
      await create({ name: `paged-${i}`, price: i, quantity: i })
    }
    const names: string[] = []
    let cursor: string | null = null
    do {
      const url: string = `/api/products?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`
      const page = await api.call<{ items: Product[]; next_cursor: string | null }>('GET', url, {
        token: reader,
      })
      expect(page.status).toBe(200)
      expect(page.body.items.length).toBeLessThanOrEqual(3)
      names.push(...page.body.items.map((p) => p.name))
      cursor = page.body.next_cursor
    } while (cursor)
    expect(names.filter((n) => n.startsWith('paged-'))).toEqual([
      'paged-0',
      'paged-1',
      'paged-2',
      'paged-3',
      'paged-4',
    ])
    expect(new Set(names).size).toBe(names.length)
    const bad = await api.call('GET', '/api/products?cursor=abc.def', { token: reader })
    expect(bad.status).toBe(400)
    expect(bad.body.code).toBe('validation_error')
  })

  it('checks the permission before existence: a reader gets 403 for any id', async () => {
    const created = await create({ name: 'guarded', price: 1, quantity: 1 })
    for (const id of [created.body.id, 'no-such-product']) {
      const put = await api.call('PUT', `/api/products/${id}`, {
        token: reader,
        body: { name: 'hacked', price: 0, quantity: 0 },
      })
      expect(put.status).toBe(403)
      expect(put.body.code).toBe('forbidden')
      const del = await api.call('DELETE', `/api/products/${id}`, { token: reader })
      expect(del.status).toBe(403)
    }
    const post = await create({ name: 'nope', price: 1, quantity: 1 }, reader)
    expect(post.status).toBe(403)
    const still = await api.call<Product>('GET', `/api/products/${created.body.id}`, {
      token: reader,
    })
    expect(still.body.name).toBe('guarded')
  })

  it('a role taken away ends its permissions at once; one given comes with the next refresh', async () => {
    const admin = await adminWithMfa(t, 'products-admin-2')
    const demoted = await userWithRoles(t, api, 'dora-demoted', ['editor', 'user'])
    expect((await create({ name: 'before', price: 1, quantity: 1 }, demoted.token)).status).toBe(
      201,
    )
    const patch = await api.call('PATCH', `/api/admin/users/${demoted.id}`, {
      token: admin.token,
      body: { roles: ['user'] },
    })
    expect(patch.status).toBe(200)
    // The same unexpired token, which still says editor.
    const after = await create({ name: 'after', price: 1, quantity: 1 }, demoted.token)
    expect([after.status, after.body.code]).toEqual([403, 'forbidden'])
    expect((await api.get('/api/products', demoted.token)).status).toBe(200)
    // The web UI's hint agrees: it no longer offers what the server now refuses.
    const hint = await api.get('/api/auth/me/permissions', demoted.token)
    expect(hint.body).toEqual({ permissions: ['products:read'] })

    // A role given is not in a token issued before it.
    const promoted = await userWithRoles(t, api, 'pia-promoted', ['user'])
    await api.call('PATCH', `/api/admin/users/${promoted.id}`, {
      token: admin.token,
      body: { roles: ['editor', 'user'] },
    })
    expect((await create({ name: 'early', price: 1, quantity: 1 }, promoted.token)).status).toBe(
      403,
    )
  })

  it('needs a Bearer token', async () => {
    const res = await api.get('/api/products')
    expect(res.status).toBe(401)
    expect(res.body.code).toBe('unauthorized')
  })
})
