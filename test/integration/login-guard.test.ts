import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { normalizeIdentifier } from '../../src/services/accounts/accounts.js'
import type { LoginAttempt } from '../../src/services/login/login-guard.js'
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
      counters: counterFactory({ prefix: 'unused:' }),
      audit: t.services.audit,
      metrics: t.services.observability.security,
      cfg: { ...cfg, loginFailureWindowSec: 60, lockoutDurationSec: 600, ipLoginMaxFailures: 1000 },
    })

  async function user(name: string): Promise<LoginAttempt> {
    await t.services.accounts.create({ username: name, password: STRONG_PASSWORD })
    return { username: normalizeIdentifier(name), userId: null, ip: '192.0.2.1' }
  }

  it('counts wrong second-factor codes without a reservation and locks on them', async () => {
    const guard = guardWith({ loginMaxFailures: 10, lockoutThreshold: 3 })
    const attempt = await user('guard-mfa')
    // Right password, second factor pending: released, not counted.
    await guard.beforeAttempt(attempt)
    await guard.releaseAttempt(attempt)
    const id = await t.services.accountLocks.resolve('guard-mfa')
    const code = { ...attempt, userId: id }
    await guard.recordFailure(code)
    await guard.recordFailure(code)
    await guard.beforeAttempt(attempt) // 2 failures so far: still allowed
    await guard.recordFailure(attempt) // the 3rd consecutive failure locks
    await expect(guard.beforeAttempt(attempt)).rejects.toMatchObject({
      code: 'rate_limited',
      retryAfterSec: 600,
    })
  })

  it('a right password with the second factor pending does not reset the count', async () => {
    const guard = guardWith({ loginMaxFailures: 10, lockoutThreshold: 3 })
    const attempt = await user('guard-pending')
    const id = await t.services.accountLocks.resolve('guard-pending')
    await guard.recordFailure({ ...attempt, userId: id })
    await guard.recordFailure({ ...attempt, userId: id })
    await guard.beforeAttempt(attempt)
    await guard.releaseAttempt(attempt) // password right, code never given
    await guard.recordFailure({ ...attempt, userId: id }) // 3rd consecutive: locked
    await expect(guard.beforeAttempt(attempt)).rejects.toMatchObject({ code: 'rate_limited' })
  })

  it('a completed login resets the count and gives its attempt back', async () => {
    const guard = guardWith({ loginMaxFailures: 2, lockoutThreshold: 3 })
    const attempt = await user('guard-done')
    await guard.beforeAttempt(attempt)
    await guard.recordFailure(attempt)
    await guard.beforeAttempt(attempt)
    await guard.recordSuccess(attempt)
    // One failure in the window and the success gave its point back: one more fits.
    await guard.beforeAttempt(attempt)
    await guard.recordFailure(attempt)
    await expect(guard.beforeAttempt(attempt)).rejects.toMatchObject({ code: 'rate_limited' })
  })
})
