import { afterEach, describe, expect, it } from 'vitest'
import { fakeClock } from '../support/clock.js'
import { testDatabases } from '../support/databases.js'
import { startApp, type TestApp, useFreshDatabase } from '../support/harness.js'
import { STRONG_PASSWORD } from '../support/http.js'
import { syncDateWith } from '../support/time.js'

const databases = await testDatabases()

describe.each(databases)('route rate limits and client addresses on $name', (database) => {
  const fresh = useFreshDatabase(database)
  let t: TestApp
  let time: ReturnType<typeof syncDateWith>
  let n = 0
  afterEach(async () => {
    time.restore()
    await t.close()
  })

  async function start(env: Record<string, string>) {
    // 00:00 UTC: hour windows start on the hour, so the times below are exact.
    const clock = fakeClock(new Date('2026-03-01T00:00:00Z'))
    time = syncDateWith(clock)
    t = await startApp(fresh.url, { clock, env })
  }

  const register = (opts: { ip?: string; forwardedFor?: string } = {}) =>
    t.app
      .inject({
        method: 'POST',
        url: '/api/auth/register',
        payload: { username: `rl-user-${++n}`, password: STRONG_PASSWORD },
        remoteAddress: opts.ip ?? '192.0.2.10',
        headers: opts.forwardedFor ? { 'x-forwarded-for': opts.forwardedFor } : {},
      })
      .then((res) => ({
        status: res.statusCode,
        body: JSON.parse(res.body) as Record<string, unknown>,
        retryAfter: res.headers['retry-after'],
      }))

  /** The client address the audit log recorded for the latest registration. */
  const lastRegisteredIp = async () => {
    const row = await t.services.db
      .selectFrom('audit_events')
      .select('ip')
      .where('event', '=', 'register')
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow()
    return row.ip
  }

  it('limits registrations per IP (IP_REGISTER_PER_HOUR) with 429, Retry-After and a metric', async () => {
    await start({ IP_REGISTER_PER_HOUR: '2' })
    time.set(new Date('2026-03-01T00:10:00Z'))
    expect((await register()).status).toBe(201)
    expect((await register()).status).toBe(201)
    const limited = await register()
    expect(limited.status).toBe(429)
    expect(limited.body).toMatchObject({ status: 429, code: 'rate_limited' })
    expect(Object.keys(limited.body).sort()).toEqual(['code', 'detail', 'status', 'title', 'type'])
    expect(Number(limited.retryAfter)).toBeGreaterThan(0)
    expect((await register({ ip: '192.0.2.99' })).status).toBe(201)

    const metrics = await t.app.inject({ method: 'GET', url: '/metrics' })
    expect(metrics.body).toContain('gatehouse_rate_limited_total{limit="register"} 1')
  })

  /**
   * A fixed window would let 2 registrations through at 00:50 and 2 more at 01:05; the
   * sliding window still counts most of the earlier ones at 01:05.
   */
  it('slides: the previous window still counts for the part that overlaps', async () => {
    await start({ IP_REGISTER_PER_HOUR: '2' })
    time.set(new Date('2026-03-01T00:50:00Z'))
    expect((await register()).status).toBe(201)
    expect((await register()).status).toBe(201)

    time.set(new Date('2026-03-01T01:05:00Z'))
    const early = await register()
    expect(early.status).toBe(429)
    // 2 × (1 − elapsed/60 min) + 1 ≤ 2 once elapsed ≥ 30 min: at 01:30, 25 minutes from now.
    expect(early.retryAfter).toBe(String(25 * 60))

    time.set(new Date('2026-03-01T01:29:00Z'))
    expect((await register()).status).toBe(429)
    time.set(new Date('2026-03-01T01:30:00Z'))
    expect((await register()).status).toBe(201)
  })

  it('Retry-After is when one more fits: full in this window, it reaches into the next', async () => {
    await start({ IP_REGISTER_PER_HOUR: '2' })
    time.set(new Date('2026-03-01T00:10:00Z'))
    expect((await register()).status).toBe(201)
    expect((await register()).status).toBe(201)
    const limited = await register()
    // At 01:00 both still weigh 2 × (1 − elapsed/60 min); one more fits from 01:30 on.
    expect(limited.retryAfter).toBe(String(80 * 60))
    time.set(new Date('2026-03-01T01:29:00Z'))
    expect((await register()).status).toBe(429)
    time.set(new Date('2026-03-01T01:30:00Z'))
    expect((await register()).status).toBe(201)
  })

  it('with TRUST_PROXY=false, X-Forwarded-For is ignored: rotating it does not escape the limit', async () => {
    await start({ IP_REGISTER_PER_HOUR: '2', TRUST_PROXY: 'false' })
    expect((await register({ forwardedFor: '203.0.113.1' })).status).toBe(201)
    expect((await register({ forwardedFor: '203.0.113.2' })).status).toBe(201)
    expect((await register({ forwardedFor: '203.0.113.3' })).status).toBe(429)
    expect(await lastRegisteredIp()).toBe('192.0.2.10')
  })

  it('with TRUST_PROXY=true, each client behind the proxy has its own limit and audited IP', async () => {
    await start({ IP_REGISTER_PER_HOUR: '2', TRUST_PROXY: 'true' })
    expect((await register({ forwardedFor: '203.0.113.1' })).status).toBe(201)
    expect((await register({ forwardedFor: '203.0.113.1' })).status).toBe(201)
    expect((await register({ forwardedFor: '203.0.113.1' })).status).toBe(429)
    expect((await register({ forwardedFor: '203.0.113.2' })).status).toBe(201)
    expect(await lastRegisteredIp()).toBe('203.0.113.2')
  })

  it('with TRUST_PROXY listing the proxy, only that proxy may set the client address', async () => {
    await start({ IP_REGISTER_PER_HOUR: '1', TRUST_PROXY: '10.0.0.0/8' })
    expect((await register({ ip: '10.1.2.3', forwardedFor: '203.0.113.5' })).status).toBe(201)
    expect((await register({ ip: '10.1.2.3', forwardedFor: '203.0.113.6' })).status).toBe(201)
    // Not a trusted proxy: its X-Forwarded-For is ignored and its own address counts.
    expect((await register({ ip: '192.0.2.50', forwardedFor: '203.0.113.7' })).status).toBe(201)
    expect((await register({ ip: '192.0.2.50', forwardedFor: '203.0.113.8' })).status).toBe(429)
  })

  /**
   * Regression (issue 9 item 8): per-IP limits were keyed by the full address, so a client
   * holding an IPv6 /64 (the usual allocation) rotated through fresh budgets at will.
   */
  it('counts IPv6 clients per /64: addresses in one /64 share the register limit', async () => {
    await start({ IP_REGISTER_PER_HOUR: '2' })
    expect((await register({ ip: '2001:db8:1:2::1' })).status).toBe(201)
    expect((await register({ ip: '2001:db8:1:2:aaaa:bbbb:cccc:dddd' })).status).toBe(201)
    const third = await register({ ip: '2001:0db8:0001:0002:ffff::9' })
    expect(third.status).toBe(429)
    expect(Number(third.retryAfter)).toBeGreaterThan(0)
    // The neighbouring /64 is another subscriber with its own budget.
    expect((await register({ ip: '2001:db8:1:3::1' })).status).toBe(201)
    // The audit log still records the full address.
    expect(await lastRegisteredIp()).toBe('2001:db8:1:3::1')
  })

  it('counts an IPv4-mapped IPv6 address as the IPv4 client it names', async () => {
    await start({ IP_REGISTER_PER_HOUR: '2' })
    expect((await register({ ip: '198.51.100.7' })).status).toBe(201)
    expect((await register({ ip: '::ffff:198.51.100.7' })).status).toBe(201)
    expect((await register({ ip: '::ffff:c633:6407' })).status).toBe(429)
    expect((await register({ ip: '::ffff:198.51.100.8' })).status).toBe(201)
  })

  /**
   * SPEC §4.1 says forgot-password always answers 202 {} (and §4.4 that a throttled one still
   * does); its per-IP limit answered 429. Over it, forgot now answers 202 and does nothing,
   * while reset, a code check, still answers 429.
   */
  it('keeps forgot-password at 202 over its per-IP limit, doing nothing, and reset at 429', async () => {
    await start({})
    const post = (url: string, payload: object) =>
      t.app.inject({ method: 'POST', url, payload, remoteAddress: '192.0.2.77' })
    const requested = async () => {
      await t.services.passwordReset.idle()
      const rows = await t.services.db
        .selectFrom('audit_events')
        .select('id')
        .where('event', '=', 'password_reset_requested')
        .execute()
      return rows.length
    }
    for (let i = 0; i < 30; i++) {
      expect(
        (await post('/api/auth/password/forgot', { username: `nobody-${i}` })).statusCode,
      ).toBe(202)
    }
    expect(await requested()).toBe(30)
    const over = await post('/api/auth/password/forgot', { username: 'nobody-else' })
    expect(over.statusCode).toBe(202)
    expect(over.body).toBe('{}')
    expect(over.headers['retry-after']).toBeUndefined()
    expect(await requested()).toBe(30)
    const reset = await post('/api/auth/password/reset', {
      username: 'nobody-0',
      code: '123456',
      new_password: 'a long enough new passphrase',
    })
    expect(reset.statusCode).toBe(429)
    expect(JSON.parse(reset.body)).toMatchObject({ code: 'rate_limited' })
    const metrics = await t.app.inject({ method: 'GET', url: '/metrics' })
    expect(metrics.body).toContain('gatehouse_rate_limited_total{limit="password_reset"} 2')
  })

  it('/api/auth/me is not rate limited', async () => {
    await start({ IP_REGISTER_PER_HOUR: '1' })
    const reg = await register()
    expect(reg.status).toBe(201)
    const login = await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { username: `rl-user-${n}`, password: STRONG_PASSWORD },
    })
    const token = (JSON.parse(login.body) as { access_token: string }).access_token
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        t.app.inject({
          method: 'GET',
          url: '/api/auth/me',
          headers: { authorization: `Bearer ${token}` },
        }),
      ),
    )
    expect(new Set(results.map((r) => r.statusCode))).toEqual(new Set([200]))
  })
})
