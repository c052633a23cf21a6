import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { normalizeIdentifier } from '../../src/services/accounts/accounts.js'
import type { LoginAttempt, LoginGuard } from '../../src/services/login/login-guard.js'
import { GatehouseError } from '../../src/services/errors.js'
import { counterFactory } from '../../src/services/lockout/counters.js'
import { createLoginThrottle } from '../../src/services/lockout/login-throttle.js'
import { fakeClock } from '../support/clock.js'
import { testDatabases } from '../support/databases.js'
import { useTestApp } from '../support/harness.js'
import { STRONG_PASSWORD } from '../support/http.js'
import { syncDateWith } from '../support/time.js'

const databases = await testDatabases()

/**
 * The guard's contract with the login flow's second-factor step (login-guard.ts): a wrong
 * code after a right password counts like a wrong password, a right password with the
 * second factor still pending counts as nothing, and only a completed login resets the
 * consecutive count.
 */
describe.each(databases)('login guard contract on $name', (database) => {
  let time: ReturnType<typeof syncDateWith>
  const { t } = useTestApp(database, () => {
    const clock = fakeClock()
    time = syncDateWith(clock)
    return { clock }
  })
  afterEach(() => time.advance('1h'))
  afterAll(() => time.restore())

  const guardWith = (cfg: { loginMaxFailures: number; lockoutThreshold: number }) =>
    createLoginThrottle({
      db: t.services.db,
      clock: t.clock,
      random: t.services.random,
      counters: counterFactory({ prefix: 'unused:' }),
      audit: t.services.audit,
      metrics: t.services.observability.security,
      cfg: { ...cfg, loginFailureWindowSec: 60, lockoutDurationSec: 600, ipLoginMaxFailures: 1000 },
    })

  async function user(name: string): Promise<LoginAttempt> {
    await t.services.accounts.create({ username: name, password: STRONG_PASSWORD })
    return { username: normalizeIdentifier(name), userId: null, ip: '192.0.2.1' }
  }

  /** A wrong factor checked: the guard sees `invalid_code` leave its scope. */
  const fail = (guard: LoginGuard, attempt: LoginAttempt) =>
    expect(
      guard.withAttempt(attempt, () => Promise.reject(new GatehouseError('invalid_code'))),
    ).rejects.toMatchObject({ code: 'invalid_code' })
  /** A right factor with the login not complete (second factor pending, a re-check). */
  const release = (guard: LoginGuard, attempt: LoginAttempt) =>
    guard.withAttempt(attempt, () => Promise.resolve())
  const complete = (guard: LoginGuard, attempt: LoginAttempt) =>
    guard.withAttempt(attempt, (scope) => Promise.resolve(scope.succeeded()))

  it('counts wrong second-factor codes and locks on them', async () => {
    const guard = guardWith({ loginMaxFailures: 10, lockoutThreshold: 3 })
    const attempt = await user('guard-mfa')
    // Right password, second factor pending: released, not counted.
    await release(guard, attempt)
    const id = await t.services.accountLocks.resolve('guard-mfa')
    const code = { ...attempt, userId: id }
    await fail(guard, code)
    await fail(guard, code)
    await fail(guard, attempt) // the 3rd consecutive failure locks
    await expect(release(guard, attempt)).rejects.toMatchObject({
      code: 'rate_limited',
      retryAfterSec: 600,
    })
  })

  it('a right password with the second factor pending does not reset the count', async () => {
    const guard = guardWith({ loginMaxFailures: 10, lockoutThreshold: 3 })
    const attempt = await user('guard-pending')
    const id = await t.services.accountLocks.resolve('guard-pending')
    await fail(guard, { ...attempt, userId: id })
    await fail(guard, { ...attempt, userId: id })
    await release(guard, attempt) // password right, code never given
    await fail(guard, { ...attempt, userId: id }) // 3rd consecutive: locked
    await expect(release(guard, attempt)).rejects.toMatchObject({ code: 'rate_limited' })
  })

  it('a completed login resets the count and gives its attempt back', async () => {
    const guard = guardWith({ loginMaxFailures: 2, lockoutThreshold: 3 })
    const attempt = await user('guard-done')
    await fail(guard, attempt)
    await complete(guard, attempt)
    // One failure in the window and the success gave its point back: one more fits.
    await fail(guard, attempt)
    await expect(release(guard, attempt)).rejects.toMatchObject({ code: 'rate_limited' })
  })

  /**
   * Issue 9 item 3: an attempt reserved before a check was never given back on some
   * successful paths (2fa/disable), so five successes locked the owner out. The scope
   * settles every outcome, including an unexpected error, so none of them ever counts.
   */
  it('never counts an attempt that ended without a wrong factor, whatever the path', async () => {
    const guard = guardWith({ loginMaxFailures: 2, lockoutThreshold: 2 })
    const attempt = await user('guard-paths')
    for (let i = 0; i < 5; i++) {
      await release(guard, attempt)
      await expect(
        guard.withAttempt(attempt, () => Promise.reject(new Error('database went away'))),
      ).rejects.toThrow('database went away')
      await expect(
        guard.withAttempt(attempt, () => Promise.reject(new GatehouseError('account_disabled'))),
      ).rejects.toMatchObject({ code: 'account_disabled' })
    }
    await complete(guard, attempt)
    const id = await t.services.accountLocks.resolve('guard-paths')
    const row = await t.services.db
      .selectFrom('login_lockouts')
      .selectAll()
      .where('user_id', '=', id)
      .executeTakeFirstOrThrow()
    expect(Number(row.failures)).toBe(0)
    expect(row.locked_until).toBeNull()
  })
})
