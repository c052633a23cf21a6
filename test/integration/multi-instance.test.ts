import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { testDatabases } from '../support/databases.js'
import { startApp, type TestApp } from '../support/harness.js'
import { STRONG_PASSWORD } from '../support/http.js'
import { appCode } from '../support/totp.js'
import { dropRedisPrefix, redisProxy, testRedisUrl, uniqueRedisPrefix } from '../support/redis.js'

/**
 * Two Gatehouse instances, as behind a load balancer: separate containers (separate
 * memory, caches and clocks) on one database and one Redis. Instance B reaches Redis
 * through a proxy the tests can cut. Each instance's fake clock stands still unless a test
 * moves it, so the session gate's periodic re-read of the database never fires by
 * itself: a revocation that B sees at once came over pub/sub.
 */
const databases = (await testDatabases()).filter((d) => d.name !== 'sqlite')

/**
 * How long to wait for Redis (pub/sub, reconnects) before failing. Generous on purpose: these
 * waits end as soon as the condition holds, and a loaded CI machine can take seconds where a
 * quiet one takes milliseconds (vi.waitFor's default of 1 s failed there).
 */
const eventually = { timeout: 20_000, interval: 20 }

const env = {
  LOGIN_MAX_FAILURES: '4',
  LOGIN_FAILURE_WINDOW: '15m',
  LOCKOUT_THRESHOLD: '4',
  LOCKOUT_DURATION: '1h',
  IP_LOGIN_MAX_FAILURES: '6',
  IP_REGISTER_PER_HOUR: '1000',
}

describe.each(databases)('two instances on $name and one Redis', (database) => {
  let a: TestApp
  let b: TestApp
  let drop: () => Promise<void>
  let url: string
  let proxy: Awaited<ReturnType<typeof redisProxy>>
  const prefix = uniqueRedisPrefix()
  let ipCounter = 0
  const nextIp = () => `192.0.2.${++ipCounter}`

  beforeAll(async () => {
    const fresh = await database.create()
    drop = fresh.drop
    url = fresh.url
    proxy = await redisProxy()
    a = await startApp(fresh.url, {
      env: { ...env, REDIS_URL: testRedisUrl, REDIS_PREFIX: prefix },
    })
    b = await startApp(fresh.url, { env: { ...env, REDIS_URL: proxy.url, REDIS_PREFIX: prefix } })
    await vi.waitFor(() => {
      expect(a.services.redisStatus()).toBe('ok')
      expect(b.services.redisStatus()).toBe('ok')
    }, eventually)
  })
  afterAll(async () => {
    await a.close()
    await b.close()
    await proxy.close()
    await dropRedisPrefix(prefix)
    await drop()
  })

  const send = async (
    t: TestApp,
    method: 'GET' | 'POST',
    url: string,
    opts: { body?: object; token?: string; ip?: string } = {},
  ) => {
    const res = await t.app.inject({
      method,
      url,
      remoteAddress: opts.ip ?? '198.51.100.1',
      headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
      ...(opts.body ? { payload: opts.body } : {}),
    })
    return {
      status: res.statusCode,
      body: JSON.parse(res.body || '{}') as Record<string, string>,
      retryAfter: res.headers['retry-after'],
    }
  }
  const login = (t: TestApp, username: string, password: string, ip?: string) =>
    send(t, 'POST', '/api/auth/login', { body: { username, password }, ip })
  const me = (t: TestApp, token: string) => send(t, 'GET', '/api/auth/me', { token })
  async function register(username: string): Promise<string> {
    const res = await send(a, 'POST', '/api/auth/register', {
      body: { username, password: STRONG_PASSWORD },
      ip: nextIp(),
    })
    expect(res.status).toBe(201)
    return (res.body.user as unknown as { id: string }).id
  }
  const auditCount = async (userId: string, event: string, reason?: string) => {
    const rows = await a.services.db
      .selectFrom('audit_events')
      .select('details')
      .where('user_id', '=', userId)
      .where('event', '=', event)
      .execute()
    return rows.filter((r) => !reason || JSON.parse(r.details ?? '{}').reason === reason).length
  }

  it('shares the per-username budget: failures on A and on B add up', async () => {
    const ip = nextIp()
    expect((await login(a, 'ghost-1', 'wrong password!!', ip)).status).toBe(401)
    expect((await login(b, 'ghost-1', 'wrong password!!', nextIp())).status).toBe(401)
    expect((await login(a, 'ghost-1', 'wrong password!!', nextIp())).status).toBe(401)
    expect((await login(b, 'ghost-1', 'wrong password!!', nextIp())).status).toBe(401)
    for (const t of [a, b]) {
      const res = await login(t, 'ghost-1', 'wrong password!!', nextIp())
      expect(res.status).toBe(429)
      expect(res.body.code).toBe('rate_limited')
    }
  })

  it('shares the per-IP budget across instances', async () => {
    const ip = nextIp()
    for (let i = 0; i < 6; i++) {
      const t = i % 2 === 0 ? a : b
      expect((await login(t, `spray-${i}`, 'wrong password!!', ip)).status).toBe(401)
    }
    expect((await login(a, 'spray-x', 'wrong password!!', ip)).status).toBe(429)
    expect((await login(b, 'spray-y', 'wrong password!!', ip)).status).toBe(429)
  })

  it('shares the lockout: failures on A lock the account on B, and B says so like throttling', async () => {
    const userId = await register('mi-locked')
    await login(a, 'mi-locked', 'wrong password!!', nextIp())
    await login(b, 'mi-locked', 'wrong password!!', nextIp())
    await login(a, 'mi-locked', 'wrong password!!', nextIp())
    await login(b, 'mi-locked', 'wrong password!!', nextIp())
    const res = await login(b, 'mi-locked', STRONG_PASSWORD, nextIp())
    expect(res.status).toBe(429)
    expect(Number(res.retryAfter)).toBeGreaterThan(15 * 60) // the 1-hour lockout, not the window
    expect(await auditCount(userId, 'account_locked')).toBe(1)

    await a.services.accountLocks.unlock(userId, { via: 'cli' })
    expect((await login(b, 'mi-locked', STRONG_PASSWORD, nextIp())).status).toBe(200)
  })

  /**
   * The race the limits exist for: 24 wrong passwords for one account, half on each
   * instance, all in flight at once. Only LOGIN_MAX_FAILURES may be checked.
   */
  it('hammering one account from both instances gets no more checks than the limit', async () => {
    const userId = await register('mi-hammer')
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        login(i % 2 === 0 ? a : b, 'mi-hammer', 'wrong password!!', nextIp()),
      ),
    )
    expect(results.filter((r) => r.status === 401)).toHaveLength(4)
    expect(results.filter((r) => r.status === 429)).toHaveLength(20)
    expect(await auditCount(userId, 'login_failed', 'wrong_password')).toBe(4)
    expect(await auditCount(userId, 'account_locked')).toBe(1)

    const unknown = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        login(i % 2 === 0 ? a : b, 'mi-nobody', 'wrong password!!', nextIp()),
      ),
    )
    expect(unknown.filter((r) => r.status === 401)).toHaveLength(4)
  })

  it('a logout on A is refused on B at once, through pub/sub', async () => {
    await register('mi-logout')
    const tokens = (await login(a, 'mi-logout', STRONG_PASSWORD)).body
    expect((await me(b, tokens.access_token!)).status).toBe(200) // B now caches "alive"
    expect((await send(a, 'POST', '/api/auth/logout', { token: tokens.access_token })).status).toBe(
      204,
    )
    // B's clock stands still: only the pub/sub message can make B refuse.
    await vi.waitFor(
      async () => expect((await me(b, tokens.access_token!)).status).toBe(401),
      eventually,
    )
  })

  it('a refresh token presented to A and B at once mints exactly one successor', async () => {
    await register('mi-refresh')
    const tokens = (await login(a, 'mi-refresh', STRONG_PASSWORD)).body
    const [fromA, fromB] = await Promise.all([
      send(a, 'POST', '/api/auth/refresh', { body: { refresh_token: tokens.refresh_token } }),
      send(b, 'POST', '/api/auth/refresh', { body: { refresh_token: tokens.refresh_token } }),
    ])
    // Within REFRESH_REUSE_GRACE the loser gets the winner's successor, never a second one.
    expect([fromA.status, fromB.status]).toEqual([200, 200])
    expect(fromA.body.refresh_token).toBe(fromB.body.refresh_token)
    const sessions = await a.services.db
      .selectFrom('refresh_tokens')
      .select('id')
      .where(
        'session_id',
        '=',
        (await a.services.sessions.authenticate(fromA.body.access_token!)).sid,
      )
      .execute()
    expect(sessions).toHaveLength(2) // the original and its one successor

    // After the grace period, presenting it again (to B) is reuse: the session ends everywhere.
    a.clock.advance('11s')
    b.clock.advance('11s')
    expect(
      (
        await send(b, 'POST', '/api/auth/refresh', {
          body: { refresh_token: tokens.refresh_token },
        })
      ).status,
    ).toBe(401)
    await vi.waitFor(
      async () => expect((await me(a, fromA.body.access_token!)).status).toBe(401),
      eventually,
    )
  })

  it('accepts one TOTP code once across both instances, even at the same moment', async () => {
    const id = await register('mi-totp')
    const { secret } = await a.services.totp.enrolDirectly(id, 'mi-totp')
    const stepA = (await login(a, 'mi-totp', STRONG_PASSWORD)).body
    const stepB = (await login(b, 'mi-totp', STRONG_PASSWORD)).body
    expect(stepA.mfa_token).toBeDefined()
    const code = appCode(secret, a.clock)
    const [onA, onB] = await Promise.all([
      send(a, 'POST', '/api/auth/login/verify', { body: { mfa_token: stepA.mfa_token, code } }),
      send(b, 'POST', '/api/auth/login/verify', { body: { mfa_token: stepB.mfa_token, code } }),
    ])
    expect([onA.status, onB.status].sort()).toEqual([200, 401])
    expect([onA.body.code, onB.body.code]).toContain('invalid_code')
  })

  it('survives a Redis outage on B: keeps serving, degrades, falls back, and recovers', async () => {
    const seen: string[] = []
    const unwatch = b.services.watchRedis((status) => seen.push(status))
    await register('mi-outage')
    const before = (await login(a, 'mi-outage', STRONG_PASSWORD)).body
    expect((await me(b, before.access_token!)).status).toBe(200)

    await proxy.cut()
    await vi.waitFor(() => expect(b.services.redisStatus()).toBe('unavailable'), eventually)
    const ready = await send(b, 'GET', '/readyz')
    expect(ready.status).toBe(200)
    expect(ready.body).toEqual({ status: 'degraded', database: 'ok', redis: 'unavailable' })
    expect((await send(a, 'GET', '/readyz')).body.status).toBe('ok')

    // B keeps serving logins and tokens...
    const during = await login(b, 'mi-outage', STRONG_PASSWORD)
    expect(during.status).toBe(200)
    expect((await me(b, during.body.access_token!)).status).toBe(200)
    // ...its limits now count in its own memory...
    for (let i = 0; i < 4; i++)
      expect((await login(b, 'ghost-outage', 'wrong password!!', nextIp())).status).toBe(401)
    expect((await login(b, 'ghost-outage', 'wrong password!!', nextIp())).status).toBe(429)
    // ...and a logout elsewhere reaches it through the database within seconds.
    expect((await send(a, 'POST', '/api/auth/logout', { token: before.access_token })).status).toBe(
      204,
    )
    b.clock.advance('3s')
    expect((await me(b, before.access_token!)).status).toBe(401)

    // An instance started while Redis is away comes up degraded and joins once it is back.
    // (Regression: its SUBSCRIBE used to be dropped after the first failed connect, so it
    // never heard of revocations again, even after Redis returned.)
    const c = await startApp(url, { env: { ...env, REDIS_URL: proxy.url, REDIS_PREFIX: prefix } })
    try {
      await vi.waitFor(() => expect(c.services.redisStatus()).toBe('unavailable'), eventually)
      expect((await send(c, 'GET', '/readyz')).body.status).toBe('degraded')

      await proxy.restore()
      for (const t of [b, c]) {
        await vi.waitFor(() => expect(t.services.redisStatus()).toBe('ok'), eventually)
      }
      const fresh = (await login(a, 'mi-outage', STRONG_PASSWORD)).body
      expect((await me(c, fresh.access_token!)).status).toBe(200)
      expect(
        (await send(a, 'POST', '/api/auth/logout', { token: fresh.access_token })).status,
      ).toBe(204)
      await vi.waitFor(
        async () => expect((await me(c, fresh.access_token!)).status).toBe(401),
        eventually,
      )
    } finally {
      await c.close()
    }
    expect((await send(b, 'GET', '/readyz')).body).toEqual({
      status: 'ok',
      database: 'ok',
      redis: 'ok',
    })
    expect(seen).toEqual(['unavailable', 'ok']) // one report each way, however many retries
    unwatch()

    // Pub/sub is back: a logout on A reaches B without B's clock moving.
    const after = (await login(a, 'mi-outage', STRONG_PASSWORD)).body
    expect((await me(b, after.access_token!)).status).toBe(200)
    expect((await send(a, 'POST', '/api/auth/logout', { token: after.access_token })).status).toBe(
      204,
    )
    await vi.waitFor(
      async () => expect((await me(b, after.access_token!)).status).toBe(401),
      eventually,
    )
  })

  it('shares the limits again once Redis is back after the outage', async () => {
    await vi.waitFor(() => expect(b.services.redisStatus()).toBe('ok'), eventually)
    // Failures on A and B count together once more (what B counted in memory during the
    // outage is not carried over; a fresh username shows it).
    for (let i = 0; i < 4; i++) {
      const on = i % 2 === 0 ? a : b
      expect((await login(on, 'ghost-converged', 'wrong password!!', nextIp())).status).toBe(401)
    }
    for (const on of [a, b]) {
      const throttled = await login(on, 'ghost-converged', 'wrong password!!', nextIp())
      expect(throttled.status).toBe(429)
      expect(Number(throttled.retryAfter)).toBeGreaterThan(0)
    }
  })
})
