import { beforeAll, describe, expect, it } from 'vitest'
import { testDatabases } from '../support/databases.js'
import { failingWrites } from '../support/failing-writes.js'
import { useTestApp } from '../support/harness.js'
import { registerAndLogin, STRONG_PASSWORD, type Tokens } from '../support/http.js'
import { adminWithMfa } from '../support/principals.js'
import { SoftAuthenticator } from '../support/authenticator.js'
import { passkeyClient } from '../support/passkeys.js'
import { appCode } from '../support/totp.js'

const databases = await testDatabases()
const NEW_PASSWORD = 'a brand new passphrase'

// A change that ends an account's sessions (a new password, a lock, a disabled account) is
// one transaction with their end and with its audit events: a failure half way must leave
// neither a new password with an intruder's session still alive, nor a lock that a retry no
// longer completes, nor a change the audit log does not show.
describe.each(databases)('changes made whole or not at all on $name', (database) => {
  const { t, api } = useTestApp(database)
  let admin: { id: string; token: string }

  beforeAll(async () => {
    admin = await adminWithMfa(t, 'ends-admin')
  })

  /** Runs `step` while ending a session fails: the last write of each change here. */
  async function whileSessionsCannotEnd(step: () => Promise<void>): Promise<void> {
    const restore = await failingWrites(t.services.db, 'sessions', 'update')
    try {
      await step()
    } finally {
      await restore()
    }
  }
  /** Runs `step` while no audit row can be written. */
  async function whileAuditFails(step: () => Promise<void>): Promise<void> {
    const restore = await failingWrites(t.services.db, 'audit_events', 'insert')
    try {
      await step()
    } finally {
      await restore()
    }
  }
  /** The `session_ended` audit rows of a user, as their details. */
  async function sessionEnds(userId: string): Promise<unknown[]> {
    const rows = await t.services.db
      .selectFrom('audit_events')
      .select('details')
      .where('event', '=', 'session_ended')
      .where('user_id', '=', userId)
      .execute()
    return rows.map((e) => JSON.parse(e.details!) as unknown)
  }
  const login = (username: string, password: string) =>
    api.post<Tokens>('/api/auth/login', { username, password })
  const isAlive = async (token: string) => (await api.get('/api/auth/me', token)).status === 200

  it('a password change that fails half way keeps the old password and the other sessions', async () => {
    const mine = await registerAndLogin(api, 'pia')
    const other = (await login('pia', STRONG_PASSWORD)).body
    const change = () =>
      api.call('POST', '/api/auth/password/change', {
        token: mine.access_token,
        body: { current_password: STRONG_PASSWORD, new_password: NEW_PASSWORD },
      })
    expect(await isAlive(mine.access_token)).toBe(true)
    await whileSessionsCannotEnd(async () => {
      expect((await change()).status).toBe(500)
    })
    expect(await isAlive(other.access_token)).toBe(true)
    expect((await login('pia', NEW_PASSWORD)).status).toBe(401)

    expect((await change()).status).toBe(204)
    expect(await isAlive(other.access_token)).toBe(false)
    expect(await isAlive(mine.access_token)).toBe(true)
    expect((await login('pia', NEW_PASSWORD)).status).toBe(200)
  })

  it.each([
    ['locked', 'account_locked'],
    ['disabled', 'account_disabled'],
  ])('an admin change to %s that fails half way can be made again', async (flag, reason) => {
    const user = await registerAndLogin(api, `quin-${flag}`)
    const patch = () =>
      api.call<Record<string, unknown>>('PATCH', `/api/admin/users/${user.user.id}`, {
        token: admin.token,
        body: { [flag]: true },
      })
    expect(await isAlive(admin.token)).toBe(true)
    await whileSessionsCannotEnd(async () => {
      expect((await patch()).status).toBe(500)
    })
    const unchanged = await api.get<Record<string, unknown>>(
      `/api/admin/users/${user.user.id}`,
      admin.token,
    )
    expect(unchanged.body[flag]).toBe(false)
    expect(await isAlive(user.access_token)).toBe(true)

    const retried = await patch()
    expect(retried.status).toBe(200)
    expect(retried.body[flag]).toBe(true)
    expect(await isAlive(user.access_token)).toBe(false)
    expect(await sessionEnds(user.user.id)).toEqual([{ session_id: expect.any(String), reason }])
  })

  it('a logout whose audit row cannot be written leaves the session for another try', async () => {
    const me = await registerAndLogin(api, 'rhea')
    const logout = () => api.post('/api/auth/logout', { refresh_token: me.refresh_token })
    await whileAuditFails(async () => {
      expect((await logout()).status).toBe(500)
    })
    expect(await isAlive(me.access_token)).toBe(true)

    expect((await logout()).status).toBe(204)
    expect(await isAlive(me.access_token)).toBe(false)
    expect(await sessionEnds(me.user.id)).toEqual([
      { session_id: expect.any(String), reason: 'logout' },
    ])
  })

  it('a password change whose audit row cannot be written does not happen', async () => {
    const me = await registerAndLogin(api, 'sela')
    const change = () =>
      api.call('POST', '/api/auth/password/change', {
        token: me.access_token,
        body: { current_password: STRONG_PASSWORD, new_password: NEW_PASSWORD },
      })
    await whileAuditFails(async () => {
      expect((await change()).status).toBe(500)
    })
    expect((await login('sela', NEW_PASSWORD)).status).toBe(401)
    expect((await login('sela', STRONG_PASSWORD)).status).toBe(200)
    expect((await change()).status).toBe(204)
    expect((await login('sela', NEW_PASSWORD)).status).toBe(200)
  })

  it.each([
    ['a lock', { locked: true }],
    ['a disable', { disabled: true }],
    ['new roles', { roles: ['admin', 'user'] }],
  ])('%s whose audit row cannot be written does not happen', async (_what, patch) => {
    const username = `tara-${Object.keys(patch)[0]}`
    const created = await api.post<{ user: { id: string } }>('/api/auth/register', {
      username,
      password: STRONG_PASSWORD,
    })
    const url = `/api/admin/users/${created.body.user.id}`
    const before = (await api.get<Record<string, unknown>>(url, admin.token)).body
    const change = () => api.call('PATCH', url, { token: admin.token, body: patch })
    await whileAuditFails(async () => {
      expect((await change()).status).toBe(500)
    })
    expect((await api.get(url, admin.token)).body).toEqual(before)
    expect((await change()).status).toBe(200)
    expect((await api.get(url, admin.token)).body).not.toEqual(before)
  })

  it('a delete whose audit row cannot be written does not happen', async () => {
    const created = await api.post<{ user: { id: string } }>('/api/auth/register', {
      username: 'una',
      password: STRONG_PASSWORD,
    })
    const url = `/api/admin/users/${created.body.user.id}`
    await whileAuditFails(async () => {
      expect((await api.call('DELETE', url, { token: admin.token })).status).toBe(500)
    })
    expect((await api.get(url, admin.token)).status).toBe(200)
    expect((await api.call('DELETE', url, { token: admin.token })).status).toBe(204)
    expect((await api.get(url, admin.token)).status).toBe(404)
  })

  it("an admin's reset-mfa whose audit row cannot be written removes nothing", async () => {
    const created = await api.post<{ user: { id: string } }>('/api/auth/register', {
      username: 'vada',
      password: STRONG_PASSWORD,
    })
    const id = created.body.user.id
    await t.services.totp.enrolDirectly(id, 'vada')
    const reset = () => api.call('POST', `/api/admin/users/${id}/reset-mfa`, { token: admin.token })
    await whileAuditFails(async () => {
      expect((await reset()).status).toBe(500)
    })
    expect(await t.services.mfaSummary(id)).toMatchObject({ totp: true })
    expect((await reset()).status).toBe(204)
    expect(await t.services.mfaSummary(id)).toMatchObject({ totp: false })
  })

  it('`gatehouse user totp` whose audit row cannot be written leaves TOTP off', async () => {
    const created = await api.post<{ user: { id: string } }>('/api/auth/register', {
      username: 'ygritte',
      password: STRONG_PASSWORD,
    })
    const id = created.body.user.id
    await whileAuditFails(async () => {
      await expect(t.services.mfa.enrolTotpFor('ygritte')).rejects.toThrow()
    })
    expect(await t.services.mfaSummary(id)).toMatchObject({ totp: false })
    await t.services.mfa.enrolTotpFor('ygritte')
    expect(await t.services.mfaSummary(id)).toMatchObject({ totp: true })
  })

  it('a refresh-token reuse whose audit row cannot be written ends nothing, until it is', async () => {
    const me = await registerAndLogin(api, 'xanthe')
    const refresh = (token: string) =>
      api.post<Tokens>('/api/auth/refresh', { refresh_token: token })
    const next = (await refresh(me.refresh_token)).body
    t.clock.advance('11s') // past REFRESH_REUSE_GRACE: the old token coming back means a leak
    const restore = await failingWrites(t.services.db, 'audit_events', 'insert', {
      column: 'event',
      is: 'refresh_token_reused',
    })
    try {
      expect((await refresh(me.refresh_token)).status).toBe(500)
    } finally {
      await restore()
    }
    expect(await isAlive(next.access_token)).toBe(true)
    expect(await sessionEnds(me.user.id)).toEqual([])

    expect((await refresh(me.refresh_token)).status).toBe(401)
    expect(await isAlive(next.access_token)).toBe(false)
    expect(await sessionEnds(me.user.id)).toEqual([
      { session_id: expect.any(String), reason: 'refresh_token_reused' },
    ])
  })

  it('a key rotation whose audit row cannot be written adds no key', async () => {
    const kids = async () =>
      (await api.get<{ keys: { kid: string }[] }>('/.well-known/jwks.json')).body.keys
        .map((k) => k.kid)
        .sort()
    const before = await kids()
    await whileAuditFails(async () => {
      await expect(t.services.keyRing.rotate()).rejects.toThrow()
    })
    expect(await kids()).toEqual(before)
    const kid = await t.services.keyRing.rotate()
    expect(await kids()).toContain(kid)
  })

  it('a TOTP enable whose audit row cannot be written leaves TOTP off, and the code usable', async () => {
    const me = await registerAndLogin(api, 'wren')
    const setup = await api.call<{ secret: string }>('POST', '/api/auth/2fa/totp/setup', {
      token: me.access_token,
    })
    const code = appCode(setup.body.secret, t.clock)
    const enable = () =>
      api.call<{ backup_codes: string[] }>('POST', '/api/auth/2fa/totp/enable', {
        token: me.access_token,
        body: { code },
      })
    await whileAuditFails(async () => {
      expect((await enable()).status).toBe(500)
    })
    const mfa = async () =>
      (await api.get<{ mfa: Record<string, unknown> }>('/api/auth/me', me.access_token)).body.mfa
    expect(await mfa()).toMatchObject({ totp: false, backup_codes_remaining: 0 })
    const enabled = await enable()
    expect(enabled.status).toBe(200)
    expect(enabled.body.backup_codes).toHaveLength(10)
    expect(await mfa()).toMatchObject({ totp: true, backup_codes_remaining: 10 })
  })

  it('a passkey whose audit row cannot be written is not registered', async () => {
    const me = await registerAndLogin(api, 'xena')
    const authenticator = new SoftAuthenticator('ES256')
    const options = await api.post<Parameters<SoftAuthenticator['register']>[0]>(
      '/api/auth/webauthn/register/options',
      undefined,
      me.access_token,
    )
    const response = authenticator.register(options.body)
    await whileAuditFails(async () => {
      const verify = await api.post(
        '/api/auth/webauthn/register/verify',
        { response },
        me.access_token,
      )
      expect(verify.status).toBe(500)
    })
    const listed = await api.get('/api/auth/webauthn/credentials', me.access_token)
    expect(listed.body).toEqual({ credentials: [] })
    await passkeyClient(api).register(me.access_token, new SoftAuthenticator('ES256'))
  })

  it('a backup code whose audit row cannot be written is not spent', async () => {
    const me = await registerAndLogin(api, 'yara')
    const setup = await api.call<{ secret: string }>('POST', '/api/auth/2fa/totp/setup', {
      token: me.access_token,
    })
    const enabled = await api.call<{ backup_codes: string[] }>(
      'POST',
      '/api/auth/2fa/totp/enable',
      { token: me.access_token, body: { code: appCode(setup.body.secret, t.clock) } },
    )
    const code = enabled.body.backup_codes[0]
    const step = await login('yara', STRONG_PASSWORD)
    const mfaToken = (step.body as unknown as { mfa_token: string }).mfa_token
    const verify = () =>
      api.post('/api/auth/login/verify', { mfa_token: mfaToken, method: 'backup_code', code })
    await whileAuditFails(async () => {
      expect((await verify()).status).toBe(500)
    })
    expect((await verify()).status).toBe(200)
  })

  it('an API key created or revoked without its audit row is not', async () => {
    const keys = () => api.get<{ items: { id: string }[] }>('/api/admin/api-keys', admin.token)
    const before = (await keys()).body.items
    const create = () =>
      api.post<{ id: string }>(
        '/api/admin/api-keys',
        { name: 'audited', scopes: ['totp'] },
        admin.token,
      )
    await whileAuditFails(async () => {
      expect((await create()).status).toBe(500)
    })
    expect((await keys()).body.items).toEqual(before)
    const created = await create()
    expect(created.status).toBe(201)

    const revoke = () =>
      api.call('DELETE', `/api/admin/api-keys/${created.body.id}`, { token: admin.token })
    await whileAuditFails(async () => {
      expect((await revoke()).status).toBe(500)
    })
    expect((await keys()).body.items.map((k) => k.id)).toContain(created.body.id)
    expect((await revoke()).status).toBe(204)
    expect((await keys()).body.items.map((k) => k.id)).not.toContain(created.body.id)
  })

  it('a role created or an account unlocked without its audit row is not', async () => {
    const roles = async () => JSON.stringify((await api.get('/api/admin/roles', admin.token)).body)
    const createRole = () =>
      api.post('/api/admin/roles', { name: 'auditor', permissions: ['audit:read'] }, admin.token)
    await whileAuditFails(async () => {
      expect((await createRole()).status).toBe(500)
    })
    expect(await roles()).not.toContain('auditor')
    expect((await createRole()).status).toBe(201)

    const created = await api.post<{ user: { id: string } }>('/api/auth/register', {
      username: 'zola',
      password: STRONG_PASSWORD,
    })
    const url = `/api/admin/users/${created.body.user.id}`
    const setLocked = (locked: boolean) =>
      api.call<{ locked: boolean }>('PATCH', url, { token: admin.token, body: { locked } })
    expect((await setLocked(true)).body.locked).toBe(true)
    await whileAuditFails(async () => {
      expect((await setLocked(false)).status).toBe(500)
    })
    expect((await api.get<{ locked: boolean }>(url, admin.token)).body.locked).toBe(true)
    expect((await setLocked(false)).body.locked).toBe(false)
  })
  it('a registration whose audit row cannot be written leaves no account behind', async () => {
    const register = () =>
      api.post('/api/auth/register', { username: 'tove', password: STRONG_PASSWORD })
    await whileAuditFails(async () => {
      expect((await register()).status).toBe(500)
    })
    // Not "username taken" on the retry, and the account exists only once it is audited.
    expect((await login('tove', STRONG_PASSWORD)).status).toBe(401)
    expect((await register()).status).toBe(201)
    expect((await login('tove', STRONG_PASSWORD)).status).toBe(200)
  })
})
