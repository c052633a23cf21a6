import { beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { testDatabases } from '../support/databases.js'
import { useTestApp } from '../support/harness.js'
import { STRONG_PASSWORD } from '../support/http.js'
import { adminWithMfa, mfaToken, userWithRoles } from '../support/principals.js'

const databases = await testDatabases()

interface Page<T = Record<string, unknown>> {
  items: T[]
  next_cursor: string | null
}

describe.each(databases)('admin API on $name', (database) => {
  const { t, api } = useTestApp(database)
  let admin: { id: string; token: string }

  beforeAll(async () => {
    admin = await adminWithMfa(t, 'root-admin')
  })
  // Some tests move the clock by hours; every test starts with a live admin token.
  beforeEach(async () => {
    admin.token = await mfaToken(t, admin.id)
  })

  const as = (token: string) => ({
    get: <T = Record<string, unknown>>(url: string) => api.call<T>('GET', url, { token }),
    post: <T = Record<string, unknown>>(url: string, body?: unknown) =>
      api.call<T>('POST', url, { token, body }),
    patch: <T = Record<string, unknown>>(url: string, body: unknown) =>
      api.call<T>('PATCH', url, { token, body }),
    delete: (url: string) => api.call('DELETE', url, { token }),
  })

  const auditRows = (event: string) =>
    t.services.db.selectFrom('audit_events').selectAll().where('event', '=', event).execute()

  describe('users', () => {
    it('searches by case-insensitive prefix of username or email and pages with a cursor', async () => {
      for (let i = 0; i < 5; i++) {
        await t.services.accounts.create({
          username: `pager-${i}`,
          email: `Pager${i}@Example.com`,
        })
        t.clock.advance('1s')
      }
      const first = await as(admin.token).get<Page>('/api/admin/users?q=PAGER&limit=2')
      expect(first.status).toBe(200)
      expect(first.body.items.map((u) => u.username)).toEqual(['pager-0', 'pager-1'])
      expect(first.body.next_cursor).toEqual(expect.any(String))
      const seen: unknown[] = [...first.body.items.map((u) => u.username)]
      let cursor = first.body.next_cursor
      while (cursor) {
        const page = await as(admin.token).get<Page>(
          `/api/admin/users?q=pager&limit=2&cursor=${encodeURIComponent(cursor)}`,
        )
        expect(page.status).toBe(200)
        seen.push(...page.body.items.map((u) => u.username))
        cursor = page.body.next_cursor
      }
      expect(seen).toEqual(['pager-0', 'pager-1', 'pager-2', 'pager-3', 'pager-4'])
      const byEmail = await as(admin.token).get<Page>('/api/admin/users?q=pager3@')
      expect(byEmail.body.items.map((u) => u.username)).toEqual(['pager-3'])
      const wildcard = await as(admin.token).get<Page>('/api/admin/users?q=pager_')
      expect(wildcard.body.items).toEqual([])
    })

    it.each([
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['limit=ten', 'limit'],
      ['limit=1.5', 'limit'],
      ['limit=0x10', 'limit'],
      ['limit=%203', 'limit'],
      ['cursor=not-a-cursor', 'cursor'],
    ])('refuses ?%s with validation_error', async (query, field) => {
      const res = await as(admin.token).get(`/api/admin/users?${query}`)
      expect(res.status).toBe(400)
      expect(res.body).toMatchObject({ code: 'validation_error' })
      expect(res.body.detail).toContain(field)
    })

    it('refuses a tampered cursor', async () => {
      const page = await as(admin.token).get<Page>('/api/admin/users?limit=1')
      const cursor = page.body.next_cursor!
      const [payload, tag] = cursor.split('.')
      const forged = Buffer.from(JSON.stringify({ c: 0, i: '' })).toString('base64url')
      for (const bad of [
        `${forged}.${tag}`,
        `${payload}.${tag!.slice(1)}A`,
        `${payload}x.${tag}`,
      ]) {
        const res = await as(admin.token).get(`/api/admin/users?cursor=${encodeURIComponent(bad)}`)
        expect(res.status).toBe(400)
        expect(res.body.code).toBe('validation_error')
      }
    })

    it("refuses another list's cursor, though it has the same shape", async () => {
      for (const name of ['pager-key-1', 'pager-key-2'])
        await t.services.apiKeys.create({ name, scopes: ['totp'], owner: 'o' }, { actorId: null })
      const keys = await as(admin.token).get<Page>('/api/admin/api-keys?limit=1')
      const cursor = encodeURIComponent(keys.body.next_cursor!)
      const res = await as(admin.token).get(`/api/admin/users?cursor=${cursor}`)
      expect(res.status).toBe(400)
      expect(res.body.code).toBe('validation_error')
    })

    it('gets a user by id, and 404 for an unknown one', async () => {
      const res = await as(admin.token).get(`/api/admin/users/${admin.id}`)
      expect(res.status).toBe(200)
      expect(res.body).toMatchObject({
        id: admin.id,
        username: 'root-admin',
        roles: ['admin', 'user'],
      })
      const missing = await as(admin.token).get('/api/admin/users/nobody')
      expect(missing.status).toBe(404)
      expect(missing.body.code).toBe('not_found')
    })

    it('changes roles: the next token carries them, and the change is audited', async () => {
      const bob = await userWithRoles(t, api, 'bob-roles', ['user'])
      await as(admin.token).post('/api/admin/roles', {
        name: 'editor',
        permissions: ['products:read', 'products:write'],
      })
      const res = await as(admin.token).patch(`/api/admin/users/${bob.id}`, {
        roles: ['user', 'editor', 'editor'],
      })
      expect(res.status).toBe(200)
      expect(res.body.roles).toEqual(['editor', 'user'])
      const login = await api.post<{ access_token: string }>('/api/auth/login', {
        username: 'bob-roles',
        password: STRONG_PASSWORD,
      })
      const me = await api.get('/api/auth/me', login.body.access_token)
      expect(me.body.roles).toEqual(['editor', 'user'])
      const rows = await auditRows('user_updated')
      const row = rows.find((r) => r.user_id === bob.id)!
      expect(row.actor_id).toBe(admin.id)
      expect(JSON.parse(row.details!)).toMatchObject({ roles: ['editor', 'user'] })
    })

    it('refuses an unknown role with validation_error and changes nothing', async () => {
      const carol = await userWithRoles(t, api, 'carol-unknown', ['user'])
      const res = await as(admin.token).patch(`/api/admin/users/${carol.id}`, {
        roles: ['user', 'superuser'],
        locked: true,
      })
      expect(res.status).toBe(400)
      expect(res.body.code).toBe('validation_error')
      expect(res.body.detail).toContain('superuser')
      const after = await as(admin.token).get(`/api/admin/users/${carol.id}`)
      expect(after.body).toMatchObject({ roles: ['user'], locked: false })
    })

    it('locking ends the sessions and refuses the right password; unlocking lets them back', async () => {
      const dave = await userWithRoles(t, api, 'dave-lock', ['user'])
      const locked = await as(admin.token).patch(`/api/admin/users/${dave.id}`, { locked: true })
      expect(locked.status).toBe(200)
      expect(locked.body.locked).toBe(true)
      const me = await api.get('/api/auth/me', dave.token)
      expect(me.status).toBe(401)
      const login = await api.post('/api/auth/login', {
        username: 'dave-lock',
        password: STRONG_PASSWORD,
      })
      expect(login.status).toBe(403)
      expect(login.body.code).toBe('account_locked')
      const unlocked = await as(admin.token).patch(`/api/admin/users/${dave.id}`, { locked: false })
      expect(unlocked.body.locked).toBe(false)
      const again = await api.post('/api/auth/login', {
        username: 'dave-lock',
        password: STRONG_PASSWORD,
      })
      expect(again.status).toBe(200)
      const updates = (await auditRows('user_updated')).filter((r) => r.user_id === dave.id)
      expect(updates.map((r) => JSON.parse(r.details!))).toEqual([
        { locked: true, via: 'admin' },
        { locked: false, via: 'admin' },
      ])
      const unlocks = (await auditRows('account_unlocked')).filter((r) => r.user_id === dave.id)
      expect(unlocks).toHaveLength(1)
      expect(unlocks[0]!.actor_id).toBe(admin.id)
    })

    it('disabling ends the sessions and refuses the right password', async () => {
      const erin = await userWithRoles(t, api, 'erin-disable', ['user'])
      const res = await as(admin.token).patch(`/api/admin/users/${erin.id}`, { disabled: true })
      expect(res.body.disabled).toBe(true)
      expect((await api.get('/api/auth/me', erin.token)).status).toBe(401)
      const login = await api.post('/api/auth/login', {
        username: 'erin-disable',
        password: STRONG_PASSWORD,
      })
      expect(login.body.code).toBe('account_disabled')
    })

    it('deletes a user: sessions end, the login fails, the deletion is audited', async () => {
      const frank = await userWithRoles(t, api, 'frank-delete', ['user'])
      const res = await as(admin.token).delete(`/api/admin/users/${frank.id}`)
      expect(res.status).toBe(204)
      expect((await api.get('/api/auth/me', frank.token)).status).toBe(401)
      const login = await api.post('/api/auth/login', {
        username: 'frank-delete',
        password: STRONG_PASSWORD,
      })
      expect(login.body.code).toBe('invalid_credentials')
      expect((await as(admin.token).get(`/api/admin/users/${frank.id}`)).status).toBe(404)
      expect((await as(admin.token).delete(`/api/admin/users/${frank.id}`)).status).toBe(404)
      const rows = (await auditRows('user_deleted')).filter((r) => r.user_id === frank.id)
      expect(rows).toHaveLength(1)
      expect(rows[0]!).toMatchObject({ actor_id: admin.id, username: 'frank-delete' })
    })

    it('resets MFA: 204 and audited; unknown user 404', async () => {
      const gina = await userWithRoles(t, api, 'gina-reset', ['user'])
      const res = await as(admin.token).post(`/api/admin/users/${gina.id}/reset-mfa`)
      expect(res.status).toBe(204)
      const rows = (await auditRows('mfa_reset')).filter((r) => r.user_id === gina.id)
      expect(rows[0]!.actor_id).toBe(admin.id)
      expect((await as(admin.token).post('/api/admin/users/nobody/reset-mfa')).status).toBe(404)
    })

    it('a user cannot patch their own roles', async () => {
      const mallory = await userWithRoles(t, api, 'mallory-self', ['user'])
      const res = await as(mallory.token).patch(`/api/admin/users/${mallory.id}`, {
        roles: ['admin'],
      })
      expect(res.status).toBe(403)
      expect(res.body.code).toBe('forbidden')
      const row = await as(admin.token).get(`/api/admin/users/${mallory.id}`)
      expect(row.body.roles).toEqual(['user'])
    })

    it('an admin token without MFA gets mfa_required and changes nothing', async () => {
      const plain = await userWithRoles(t, api, 'admin-nomfa', ['admin'])
      const victim = await userWithRoles(t, api, 'victim-nomfa', ['user'])
      const res = await as(plain.token).patch(`/api/admin/users/${victim.id}`, { locked: true })
      expect(res.status).toBe(403)
      expect(res.body.code).toBe('mfa_required')
      const row = await as(admin.token).get(`/api/admin/users/${victim.id}`)
      expect(row.body.locked).toBe(false)
    })

    it('a demoted admin loses admin power at once, even with a token that says admin', async () => {
      const temp = await adminWithMfa(t, 'temp-admin')
      expect((await as(temp.token).get('/api/admin/roles')).status).toBe(200)
      await as(admin.token).patch(`/api/admin/users/${temp.id}`, { roles: ['user'] })
      const res = await as(temp.token).get('/api/admin/roles')
      expect(res.status).toBe(403)
    })
  })

  describe.each([
    ['remove their admin role', { roles: ['user'] }],
    ['lock themselves', { locked: true }],
    ['disable themselves', { disabled: true }],
    ['delete themselves', null],
  ])('the last two admins who %s at the same moment', (_what, patch) => {
    // An app of its own: these two are the only admins.
    const { t: pair, api: pairApi } = useTestApp(database)

    it('leave one of them an active admin (the other gets 409)', async () => {
      const first = await adminWithMfa(pair, 'pair-admin-1')
      const second = await adminWithMfa(pair, 'pair-admin-2')
      const stepDown = (a: { id: string; token: string }) =>
        patch
          ? pairApi.call('PATCH', `/api/admin/users/${a.id}`, { token: a.token, body: patch })
          : pairApi.call('DELETE', `/api/admin/users/${a.id}`, { token: a.token })
      const answers = (await Promise.all([stepDown(first), stepDown(second)])).map((r) => r.status)
      expect([...answers].sort()).toEqual([patch ? 200 : 204, 409])
      // The refused one changed nothing, their own sessions included.
      const refused = answers[0] === 409 ? first : second
      expect((await pairApi.get('/api/auth/me', refused.token)).status).toBe(200)
      // As the admin API lists them: the user objects' roles and flags.
      const { items } = await pair.services.userDirectory.list({ limit: 100 })
      const active = items.filter((u) => u.roles.includes('admin') && !u.locked && !u.disabled)
      expect(active).toHaveLength(1)
    })
  })

  describe('the last active admin', () => {
    // An app of its own: here the admin must be the only one.
    const { t: solo, api: soloApi } = useTestApp(database)
    let only: { id: string; token: string }

    beforeAll(async () => {
      only = await adminWithMfa(solo, 'only-admin')
    })

    it.each([
      ['remove their admin role', { roles: ['user'] }],
      ['lock themselves', { locked: true }],
      ['disable themselves', { disabled: true }],
    ])('cannot %s (409) and nothing changes', async (_what, patch) => {
      const res = await soloApi.call('PATCH', `/api/admin/users/${only.id}`, {
        token: only.token,
        body: patch,
      })
      expect(res.status).toBe(409)
      expect(res.body.code).toBe('conflict')
      const me = await soloApi.get('/api/auth/me', only.token)
      expect(me.status).toBe(200)
      expect(me.body).toMatchObject({ roles: ['admin', 'user'], locked: false, disabled: false })
    })

    it('cannot delete themselves (409)', async () => {
      const res = await soloApi.call('DELETE', `/api/admin/users/${only.id}`, { token: only.token })
      expect(res.status).toBe(409)
      expect((await soloApi.get('/api/auth/me', only.token)).status).toBe(200)
    })

    it('can step down once another admin exists, and a locked admin does not count', async () => {
      const other = await adminWithMfa(solo, 'second-admin')
      await soloApi.call('PATCH', `/api/admin/users/${other.id}`, {
        token: only.token,
        body: { locked: true },
      })
      const refused = await soloApi.call('PATCH', `/api/admin/users/${only.id}`, {
        token: only.token,
        body: { roles: ['user'] },
      })
      expect(refused.status).toBe(409)
      await soloApi.call('PATCH', `/api/admin/users/${other.id}`, {
        token: only.token,
        body: { locked: false },
      })
      const ok = await soloApi.call('PATCH', `/api/admin/users/${only.id}`, {
        token: only.token,
        body: { roles: ['user'] },
      })
      expect(ok.status).toBe(200)
      expect(ok.body.roles).toEqual(['user'])
    })
  })

  describe('roles', () => {
    it('lists the built-in roles and creates new ones', async () => {
      const created = await as(admin.token).post('/api/admin/roles', {
        name: 'doctor',
        permissions: ['patients:read', 'products:read'],
      })
      expect(created.status).toBe(201)
      expect(created.body).toEqual({
        name: 'doctor',
        permissions: ['patients:read', 'products:read'],
      })
      const list = await as(admin.token).get<Page<{ name: string; permissions: string[] }>>(
        '/api/admin/roles',
      )
      expect(list.status).toBe(200)
      expect(list.body.next_cursor).toBeNull()
      expect(list.body.items).toEqual(
        expect.arrayContaining([
          { name: 'admin', permissions: ['*'] },
          { name: 'user', permissions: ['products:read'] },
          { name: 'doctor', permissions: ['patients:read', 'products:read'] },
        ]),
      )
      const rows = await auditRows('role_created')
      expect(rows.find((r) => JSON.parse(r.details!).role === 'doctor')!.actor_id).toBe(admin.id)
    })

    it('refuses a duplicate role with 409', async () => {
      const res = await as(admin.token).post('/api/admin/roles', { name: 'admin', permissions: [] })
      expect(res.status).toBe(409)
      expect(res.body.code).toBe('conflict')
    })

    it.each([
      [{ name: 'Bad Name', permissions: [] }, 'name'],
      [{ name: '', permissions: [] }, 'name'],
      [{ name: 'ok-name', permissions: ['no spaces allowed'] }, 'permissions'],
      [{ name: 'ok-name', permissions: 'products:read' }, 'permissions'],
      [{ permissions: [] }, 'name'],
    ])('refuses %j with validation_error', async (body, field) => {
      const res = await as(admin.token).post('/api/admin/roles', body)
      expect(res.status).toBe(400)
      expect(res.body.code).toBe('validation_error')
      expect(res.body.detail).toContain(field)
    })
  })

  describe('audit log', () => {
    it('filters by user, event and time, newest first, with a cursor', async () => {
      const hank = await userWithRoles(t, api, 'hank-audit', ['user'])
      t.clock.advance('1h')
      const since = t.clock.now().toISOString()
      for (let i = 0; i < 3; i++) {
        await api.post('/api/auth/login', {
          username: 'hank-audit',
          password: `wrong password ${i}`,
        })
        t.clock.advance('1s')
      }
      const until = t.clock.now().toISOString()
      t.clock.advance('1h')
      await api.post('/api/auth/login', { username: 'hank-audit', password: 'wrong password late' })
      admin.token = await mfaToken(t, admin.id)

      const url = `/api/admin/audit-log?user=${hank.id}&event=login_failed&since=${since}&until=${until}&limit=2`
      const first = await as(admin.token).get<Page>(url)
      expect(first.status).toBe(200)
      expect(first.body.items).toHaveLength(2)
      expect(first.body.items[0]).toMatchObject({
        event: 'login_failed',
        outcome: 'failure',
        user_id: hank.id,
        username: 'hank-audit',
        actor_id: null,
        details: { reason: 'wrong_password' },
      })
      expect(typeof first.body.items[0]!.id).toBe('string')
      const times = first.body.items.map((e) => e.time as string)
      expect([...times].sort().reverse()).toEqual(times)
      const second = await as(admin.token).get<Page>(
        `${url}&cursor=${encodeURIComponent(first.body.next_cursor!)}`,
      )
      expect(second.body.items).toHaveLength(1)
      expect(second.body.next_cursor).toBeNull()
      const all = [...first.body.items, ...second.body.items]
      expect(new Set(all.map((e) => e.id)).size).toBe(3)
      expect(JSON.stringify(all)).not.toContain('wrong password')
    })

    it('takes a date alone as the whole day, UTC', async () => {
      await api.post('/api/auth/login', { username: 'hank-audit', password: 'wrong today' })
      const day = t.clock.now().toISOString().slice(0, 10)
      const next = new Date(Date.parse(day) + 86_400_000).toISOString().slice(0, 10)
      const url = (q: string) => `/api/admin/audit-log?event=login_failed&limit=1&${q}`
      const today = await as(admin.token).get<Page>(url(`since=${day}`))
      expect(today.status).toBe(200)
      expect(today.body.items).toHaveLength(1)
      expect((await as(admin.token).get<Page>(url(`since=${next}`))).body.items).toHaveLength(0)
      // until a date: to its end, so the day's events are in.
      expect((await as(admin.token).get<Page>(url(`until=${day}`))).body.items).toHaveLength(1)
      const before = new Date(Date.parse(day) - 86_400_000).toISOString().slice(0, 10)
      const earlier = await as(admin.token).get<Page>(url(`since=${day}&until=${before}`))
      expect(earlier.body.items).toHaveLength(0)
    })

    it('refuses a tampered cursor and a bad date', async () => {
      const page = await as(admin.token).get<Page>('/api/admin/audit-log?limit=1')
      const [, tag] = page.body.next_cursor!.split('.')
      const forged = `${Buffer.from('{"b":1}').toString('base64url')}.${tag}`
      const res = await as(admin.token).get(`/api/admin/audit-log?cursor=${forged}`)
      expect(res.status).toBe(400)
      expect(res.body.code).toBe('validation_error')
      for (const since of [
        'yesterday',
        '1',
        '2020-01-01T23:59:60Z',
        '2026-02-30',
        '2026-12-03T10:00:00',
      ]) {
        const bad = await as(admin.token).get(`/api/admin/audit-log?since=${since}`)
        expect(bad.status).toBe(400)
        expect(bad.body.detail).toContain('since')
      }
    })

    it('refuses an event it never records, rather than answering "none"', async () => {
      const res = await as(admin.token).get('/api/admin/audit-log?event=login_failure')
      expect(res.status).toBe(400)
      expect(res.body).toMatchObject({ code: 'validation_error' })
      expect(res.body.detail).toMatch(/^querystring\.event: /)
      const known = await as(admin.token).get('/api/admin/audit-log?event=oidc_client_updated')
      expect(known.status).toBe(200)
    })
  })

  describe('API keys', () => {
    it('creates a key shown once, stored hashed, owned by the admin by default', async () => {
      const res = await as(admin.token).post('/api/admin/api-keys', {
        name: 'billing',
        scopes: ['totp'],
      })
      expect(res.status).toBe(201)
      expect(res.body).toMatchObject({ name: 'billing', owner: 'root-admin', scopes: ['totp'] })
      const key = res.body.key as string
      expect(key).toMatch(/^ghk_[A-Za-z0-9_-]{43}$/)
      const stored = await t.services.db.selectFrom('api_keys').selectAll().execute()
      expect(JSON.stringify(stored)).not.toContain(key)
      const list = await as(admin.token).get<Page>('/api/admin/api-keys')
      expect(list.body.items.find((k) => k.id === res.body.id)).toEqual({
        id: res.body.id,
        name: 'billing',
        owner: 'root-admin',
        scopes: ['totp'],
        created_at: expect.any(String),
        last_used_at: null,
      })
      expect(JSON.stringify(list.body)).not.toContain(key)
      const audit = (await auditRows('api_key_created')).at(-1)!
      expect(audit.actor_id).toBe(admin.id)
      expect(audit.details).not.toContain(key)
    })

    it('uses the given owner, pages the list, and revokes a key for good', async () => {
      const made = []
      for (let i = 0; i < 3; i++) {
        t.clock.advance('1s')
        const res = await as(admin.token).post('/api/admin/api-keys', {
          name: `introspector-${i}`,
          scopes: ['introspect', 'totp'],
          owner: 'tenant-x',
        })
        expect(res.body.owner).toBe('tenant-x')
        made.push(res.body)
      }
      const first = await as(admin.token).get<Page>('/api/admin/api-keys?limit=2')
      expect(first.body.items).toHaveLength(2)
      const rest = await as(admin.token).get<Page>(
        `/api/admin/api-keys?limit=100&cursor=${encodeURIComponent(first.body.next_cursor!)}`,
      )
      expect(rest.body.next_cursor).toBeNull()
      const target = made[0]!
      const introspect = (key: string) =>
        api.call('POST', '/api/oauth/introspect', {
          headers: { 'x-api-key': key },
          body: { token: 'x' },
        })
      expect((await introspect(target.key as string)).status).toBe(200)
      const revoked = await as(admin.token).delete(`/api/admin/api-keys/${target.id as string}`)
      expect(revoked.status).toBe(204)
      const after = await introspect(target.key as string)
      expect(after.status).toBe(401)
      expect(after.body.code).toBe('invalid_api_key')
      const list = await as(admin.token).get<Page>('/api/admin/api-keys?limit=100')
      expect(list.body.items.map((k) => k.id)).not.toContain(target.id)
      expect(
        (await as(admin.token).delete(`/api/admin/api-keys/${target.id as string}`)).status,
      ).toBe(404)
      expect((await auditRows('api_key_revoked')).at(-1)!.actor_id).toBe(admin.id)
    })

    it.each([
      [{ name: 'x', scopes: [] }, 'scopes'],
      [{ name: 'x', scopes: ['admin'] }, 'scopes'],
      [{ name: 'x', scopes: ['totp', 'totp'] }, 'scopes'],
      [{ scopes: ['totp'] }, 'name'],
      [{ name: 'x\u0000y', scopes: ['totp'] }, 'name'],
    ])('refuses %j with validation_error', async (body, field) => {
      const res = await as(admin.token).post('/api/admin/api-keys', body)
      expect(res.status).toBe(400)
      expect(res.body.code).toBe('validation_error')
      expect(res.body.detail).toContain(field)
    })

    it('names the scopes there are when one is unknown', async () => {
      const res = await as(admin.token).post('/api/admin/api-keys', {
        name: 'x',
        scopes: ['admin'],
      })
      expect(res.body.detail).toBe('body.scopes.0: must be one of totp, introspect')
    })
  })
})
