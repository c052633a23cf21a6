import { afterEach, describe, expect, it } from 'vitest'
import { fakeClock } from '../support/clock.js'
import { testDatabases } from '../support/databases.js'
import { failingWrites } from '../support/failing-writes.js'
import { startApp, type TestApp, useFreshDatabase } from '../support/harness.js'
import { client, STRONG_PASSWORD } from '../support/http.js'
import { adminWithMfa, mfaToken } from '../support/principals.js'
import { syncDateWith } from '../support/time.js'

const databases = await testDatabases()
const THROTTLED_DETAIL = 'too many failed login attempts; try again later'

// Small numbers keep the story readable: 3 failures per 1-minute window, lockout after 5
// consecutive failures for an hour.
const limits = {
  LOGIN_MAX_FAILURES: '3',
  LOGIN_FAILURE_WINDOW: '1m',
  LOCKOUT_THRESHOLD: '5',
  LOCKOUT_DURATION: '1h',
  IP_LOGIN_MAX_FAILURES: '100',
}

describe.each(databases)('login throttling and lockout on $name', (database) => {
  const fresh = useFreshDatabase(database)
  let t: TestApp
  let time: ReturnType<typeof syncDateWith>
  afterEach(async () => {
    time.restore()
    await t.close()
  })

  /** A fresh app (fresh in-memory counters) on the shared database, time synced. */
  async function start(env: Record<string, string> = {}) {
    const clock = fakeClock()
    time = syncDateWith(clock)
    t = await startApp(fresh.url, { clock, env: { ...limits, ...env } })
    return client(t.app)
  }

  const login = (username: string, password: string, ip = '203.0.113.7') =>
    t.app
      .inject({
        method: 'POST',
        url: '/api/auth/login',
        payload: { username, password },
        remoteAddress: ip,
        headers: { 'user-agent': 'throttle-test/1.0' },
      })
      .then((res) => ({
        status: res.statusCode,
        body: JSON.parse(res.body) as Record<string, unknown>,
        retryAfter: res.headers['retry-after'],
      }))

  async function register(username: string) {
    const res = await client(t.app).post<{ user: { id: string } }>('/api/auth/register', {
      username,
      password: STRONG_PASSWORD,
    })
    expect(res.status).toBe(201)
    return res.body.user.id
  }

  const audit = (userId: string | null, event: string) =>
    t.services.db
      .selectFrom('audit_events')
      .selectAll()
      .where('event', '=', event)
      .where((eb) => (userId ? eb('user_id', '=', userId) : eb('user_id', 'is', null)))
      .orderBy('id')
      .execute()

  it('throttles a username after LOGIN_MAX_FAILURES, even for the right password', async () => {
    await start()
    const userId = await register('thr-alice')
    for (let i = 0; i < 3; i++)
      expect((await login('thr-alice', 'wrong password!!')).status).toBe(401)

    const throttled = await login('thr-alice', STRONG_PASSWORD)
    expect(throttled.status).toBe(429)
    expect(throttled.body).toEqual({
      type: expect.any(String),
      title: expect.any(String),
      status: 429,
      detail: expect.any(String),
      code: 'rate_limited',
    })
    expect(throttled.body.detail).toBe(THROTTLED_DETAIL)
    expect(throttled.retryAfter).toBe('60')
    time.advance('20s')
    expect((await login('thr-alice', STRONG_PASSWORD)).retryAfter).toBe('40')

    // Throttled attempts were neither checked nor counted: once the window is over, the
    // right password works at once.
    time.advance('41s')
    expect((await login('thr-alice', STRONG_PASSWORD)).status).toBe(200)

    const failed = await audit(userId, 'login_failed')
    expect(failed.map((e) => JSON.parse(e.details!).reason)).toEqual([
      'wrong_password',
      'wrong_password',
      'wrong_password',
      'throttled',
      'throttled',
    ])
    expect(failed[0]).toMatchObject({
      username: 'thr-alice',
      ip: '203.0.113.7',
      user_agent: 'throttle-test/1.0',
      outcome: 'failure',
    })
  })

  it('throttles unknown usernames alike, and shares one budget between username and email', async () => {
    await start()
    for (let i = 0; i < 3; i++)
      expect((await login('nobody-here', 'wrong password!!')).status).toBe(401)
    expect((await login('nobody-here', 'wrong password!!')).status).toBe(429)
    expect((await login('NOBODY-HERE', 'wrong password!!')).status).toBe(429)

    const res = await client(t.app).post('/api/auth/register', {
      username: 'thr-mail',
      password: STRONG_PASSWORD,
      email: 'thr-mail@example.com',
    })
    expect(res.status).toBe(201)
    expect((await login('thr-mail', 'wrong password!!')).status).toBe(401)
    expect((await login('thr-mail@example.com', 'wrong password!!')).status).toBe(401)
    expect((await login('thr-mail', 'wrong password!!')).status).toBe(401)
    expect((await login('thr-mail@example.com', STRONG_PASSWORD)).status).toBe(429)
  })

  it('locks an account after LOCKOUT_THRESHOLD consecutive failures across windows', async () => {
    await start()
    const userId = await register('thr-bob')
    for (let i = 0; i < 3; i++)
      expect((await login('thr-bob', 'wrong password!!')).status).toBe(401)
    time.advance('61s')
    expect((await login('thr-bob', 'wrong password!!')).status).toBe(401)
    expect((await login('thr-bob', 'wrong password!!')).status).toBe(401) // 5th: locks

    const locked = await login('thr-bob', STRONG_PASSWORD)
    expect(locked.status).toBe(429)
    expect(locked.body.code).toBe('rate_limited')
    expect(locked.retryAfter).toBe('3600')
    // Same answer as throttling: nothing tells the attacker the account is locked.
    expect(locked.body.detail).toBe(THROTTLED_DETAIL)

    time.advance('2m') // the throttling window is long over; the lockout is not
    const stillLocked = await login('thr-bob', STRONG_PASSWORD)
    expect(stillLocked.status).toBe(429)
    expect(stillLocked.retryAfter).toBe('3480')

    const lockEvents = await audit(userId, 'account_locked')
    expect(lockEvents).toHaveLength(1)
    expect(lockEvents[0]).toMatchObject({
      outcome: 'success',
      username: 'thr-bob',
      ip: '203.0.113.7',
    })

    time.advance('58m')
    expect((await login('thr-bob', STRONG_PASSWORD)).status).toBe(200)
  })

  it('a lockout whose write failed is made by a later attempt, not left to refuse every login', async () => {
    await start({ LOGIN_MAX_FAILURES: '100' })
    const userId = await register('thr-stuck')
    for (let i = 0; i < 4; i++)
      expect((await login('thr-stuck', 'wrong password!!')).status).toBe(401)
    const restore = await failingWrites(t.services.db, 'audit_events', 'insert', {
      column: 'event',
      is: 'account_locked',
    })
    try {
      // The 5th failure is counted, but its lockout cannot be written.
      expect((await login('thr-stuck', 'wrong password!!')).status).toBe(500)
    } finally {
      await restore()
    }
    expect(await audit(userId, 'account_locked')).toHaveLength(0)

    // The count is full with nothing in flight: after its wait, this attempt locks.
    const refused = await login('thr-stuck', STRONG_PASSWORD)
    expect(refused.status).toBe(429)
    expect(refused.retryAfter).toBe('3600')
    expect(await audit(userId, 'account_locked')).toHaveLength(1)
    time.advance('61m')
    expect((await login('thr-stuck', STRONG_PASSWORD)).status).toBe(200)
  })

  it('a completed login resets the consecutive count; a failure inside a window does not', async () => {
    await start()
    await register('thr-carol')
    for (let i = 0; i < 3; i++) await login('thr-carol', 'wrong password!!')
    time.advance('61s')
    expect((await login('thr-carol', 'wrong password!!')).status).toBe(401)
    expect((await login('thr-carol', STRONG_PASSWORD)).status).toBe(200) // 4 failures, reset
    expect((await login('thr-carol', 'wrong password!!')).status).toBe(401)
    time.advance('61s')
    for (let i = 0; i < 3; i++)
      expect((await login('thr-carol', 'wrong password!!')).status).toBe(401)
    time.advance('61s')
    // 4 consecutive failures since the success: not locked (without the reset it would be 8).
    expect((await login('thr-carol', STRONG_PASSWORD)).status).toBe(200)
  })

  it('unlock lifts the lockout and its throttling at once, and is audited', async () => {
    await start()
    const userId = await register('thr-dave')
    for (let i = 0; i < 3; i++) await login('thr-dave', 'wrong password!!')
    time.advance('61s')
    for (let i = 0; i < 2; i++) await login('thr-dave', 'wrong password!!')
    expect((await login('thr-dave', STRONG_PASSWORD)).status).toBe(429)

    const lifted = await t.services.accountLocks.unlock(userId, {
      via: 'cli',
      username: 'thr-dave',
    })
    expect(lifted).toEqual({ adminLock: false, lockout: true })
    expect((await login('thr-dave', STRONG_PASSWORD)).status).toBe(200)
    const events = await audit(userId, 'account_unlocked')
    expect(events).toHaveLength(1)
    expect(JSON.parse(events[0]!.details!)).toEqual({
      admin_lock: false,
      lockout: true,
      via: 'cli',
    })
  })

  /**
   * Regression: `locked` showed only an admin's lock, so an account under the automatic
   * lockout (SPEC §4.5: "locked for LOCKOUT_DURATION (an admin can unlock it)") looked active
   * in the admin API, the UI and the CLI, with nothing there to unlock.
   */
  it('shows an automatic lockout as locked to admins until it is lifted or runs out', async () => {
    const api = await start()
    const admin = await adminWithMfa(t, 'lockview-admin')
    const asAdmin = (method: 'GET' | 'PATCH', url: string, body?: unknown) =>
      api.call<Record<string, unknown>>(method, url, { token: admin.token, body })
    const frankId = await register('lockview-frank')
    const ginaId = await register('lockview-gina')
    const session = await login('lockview-frank', STRONG_PASSWORD)
    // Someone also fails the admin's logins: a lockout must not disarm the admin's session.
    const names = ['lockview-frank', 'lockview-gina', 'lockview-admin']
    for (const name of names) for (let i = 0; i < 3; i++) await login(name, 'wrong password!!')
    time.advance('61s')
    for (const name of names) for (let i = 0; i < 2; i++) await login(name, 'wrong password!!')
    expect((await login('lockview-frank', STRONG_PASSWORD)).status).toBe(429)

    expect((await asAdmin('GET', `/api/admin/users/${frankId}`)).body).toMatchObject({
      locked: true,
      disabled: false,
    })
    const listed = await api.call<{ items: Record<string, unknown>[] }>(
      'GET',
      '/api/admin/users?q=lockview-',
      { token: admin.token },
    )
    // Created within the same instant of the fake clock: the order among them is the ids'.
    const rows = listed.body.items.map((u) => [u.username, u.locked])
    expect(rows.sort()).toEqual([
      ['lockview-admin', true],
      ['lockview-frank', true],
      ['lockview-gina', true],
    ])
    // Locked out, not locked by an admin: the session it had goes on, and says so.
    const me = await api.get<Record<string, unknown>>(
      '/api/auth/me',
      session.body.access_token as string,
    )
    expect(me.body).toMatchObject({ locked: true })

    const unlocked = await asAdmin('PATCH', `/api/admin/users/${frankId}`, { locked: false })
    expect(unlocked.body).toMatchObject({ locked: false })
    expect((await asAdmin('GET', `/api/admin/users/${frankId}`)).body).toMatchObject({
      locked: false,
    })
    expect((await login('lockview-frank', STRONG_PASSWORD)).status).toBe(200)
    // The admin changed `locked` from true to false: SPEC §4.6 audits that as user_updated.
    const updates = await audit(frankId, 'user_updated')
    expect(updates.map((e) => [e.actor_id, JSON.parse(e.details!)])).toEqual([
      [admin.id, { locked: false, via: 'admin' }],
    ])

    // Gina's lockout runs out by itself (LOCKOUT_DURATION 1h) and stops showing.
    time.advance('61m')
    admin.token = await mfaToken(t, admin.id)
    expect((await asAdmin('GET', `/api/admin/users/${ginaId}`)).body).toMatchObject({
      locked: false,
    })
  })

  it("an admin's lock refuses the right password with 403 and ends sessions; unlock lifts it", async () => {
    const api = await start()
    const userId = await register('thr-erin')
    const session = await login('thr-erin', STRONG_PASSWORD)
    const token = session.body.access_token as string

    expect(await t.services.accountLocks.lock(userId, { via: 'cli' })).toBe(true)
    expect((await api.get('/api/auth/me', token)).status).toBe(401)
    const refused = await login('thr-erin', STRONG_PASSWORD)
    expect(refused.status).toBe(403)
    expect(refused.body.code).toBe('account_locked')
    expect((await login('thr-erin', 'wrong password!!')).body.code).toBe('invalid_credentials')

    expect(await t.services.accountLocks.unlock(userId, { via: 'cli' })).toEqual({
      adminLock: true,
      lockout: false,
    })
    expect((await login('thr-erin', STRONG_PASSWORD)).status).toBe(200)
    const updates = await audit(userId, 'user_updated')
    expect(JSON.parse(updates[0]!.details!)).toEqual({ locked: true, via: 'cli' })
  })

  it('limits failed logins per client IP across usernames; other addresses are unaffected', async () => {
    await start({ IP_LOGIN_MAX_FAILURES: '4' })
    for (let i = 0; i < 4; i++)
      expect((await login(`spray-${i}`, 'wrong password!!')).status).toBe(401)
    const limited = await login('spray-9', 'wrong password!!')
    expect(limited.status).toBe(429)
    expect(limited.retryAfter).toBe('60')
    expect((await login('spray-9', 'wrong password!!', '198.51.100.1')).status).toBe(401)
  })

  /**
   * Counting happens before checking: parallel wrong passwords all arrive before any
   * failure is recorded, and still only LOGIN_MAX_FAILURES of them are checked.
   */
  it('never checks more parallel wrong passwords than the limit allows', async () => {
    await start()
    const userId = await register('thr-race')
    const results = await Promise.all(
      Array.from({ length: 20 }, () => login('thr-race', 'wrong password!!')),
    )
    const statuses = results.map((r) => r.status).sort()
    expect(statuses.filter((s) => s === 401)).toHaveLength(3)
    expect(statuses.filter((s) => s === 429)).toHaveLength(17)
    const checked = (await audit(userId, 'login_failed')).filter(
      (e) => JSON.parse(e.details!).reason === 'wrong_password',
    )
    expect(checked).toHaveLength(3)
  })

  it('counts logins and rejections in /metrics', async () => {
    const api = await start()
    await register('thr-metrics')
    await login('thr-metrics', STRONG_PASSWORD)
    for (let i = 0; i < 4; i++) await login('thr-metrics', 'wrong password!!')
    const res = await api.call('GET', '/metrics')
    const text = res.raw.body
    expect(text).toContain('gatehouse_logins_total{outcome="success"} 1')
    expect(text).toContain('gatehouse_logins_total{outcome="failure"} 3')
    expect(text).toContain('gatehouse_rate_limited_total{limit="login_user"} 1')
  })
})
