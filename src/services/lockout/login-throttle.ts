import type { Db } from '../../store/db.js'
import {
  addFailure,
  ensureLockoutRow,
  findLockout,
  findLockoutByIdentifier,
  lockIfThresholdReached,
  releaseAttempt,
  reserveAttempt,
  resetFailures,
  type LockoutState,
} from '../../store/repositories/lockouts.js'
import type { AuditLog } from '../audit/audit-log.js'
import { GatehouseError } from '../errors.js'
import type { LoginAttempt, LoginGuard } from '../login/login-guard.js'
import type { SecurityMetrics } from '../metrics.js'
import type { Clock } from '../ports.js'
import type { CounterFactory } from './counters.js'

export interface LoginLimitsConfig {
  loginMaxFailures: number
  loginFailureWindowSec: number
  lockoutThreshold: number
  lockoutDurationSec: number
  ipLoginMaxFailures: number
}

/** What one admitted attempt holds until its outcome is known. */
interface Reservation {
  userKey: string
  ipKey: string | null
  userId: string | null
}

// Identifiers that can name no account never reach the database (as in accounts.ts).
const LOOKUP_SAFE = /^[^\u0000-\u001f\u007f]{1,255}$/ // eslint-disable-line no-control-regex
const MAX_PENDING_KEYS = 10_000

/**
 * SPEC §4.5 login protection, three limits checked before any password is:
 * - per username (per account when the identifier names one, so username and email share
 *   it): LOGIN_MAX_FAILURES per LOGIN_FAILURE_WINDOW, unknown usernames included;
 * - per client IP: IP_LOGIN_MAX_FAILURES per LOGIN_FAILURE_WINDOW;
 * - per account: LOCKOUT_THRESHOLD consecutive failures, across windows, lock it for
 *   LOCKOUT_DURATION (kept in the database: shared without Redis, survives restarts, and
 *   `gatehouse user unlock` can lift it from another process).
 * Each attempt takes its point before the password is checked and gives it back if it was
 * not a failure, so N parallel wrong passwords get at most the limit checked. A refused
 * attempt is not checked and not counted. Lockout and throttling answer alike.
 */
export function createLoginThrottle(deps: {
  db: Db
  clock: Clock
  counters: CounterFactory
  audit: AuditLog
  metrics: SecurityMetrics
  cfg: LoginLimitsConfig
}): LoginGuard {
  const { db, clock, audit, metrics, cfg } = deps
  const perUser = deps.counters('login_user', {
    limit: cfg.loginMaxFailures,
    windowSec: cfg.loginFailureWindowSec,
  })
  const perIp = deps.counters('login_ip', {
    limit: cfg.ipLoginMaxFailures,
    windowSec: cfg.loginFailureWindowSec,
  })
  const pending = new Map<string, Reservation[]>()
  const pendingKey = (a: LoginAttempt) => `${a.username}\u0000${a.ip ?? ''}`

  const lookup = async (a: LoginAttempt): Promise<LockoutState | undefined> => {
    if (a.userId) return findLockout(db, a.userId)
    return LOOKUP_SAFE.test(a.username) ? findLockoutByIdentifier(db, a.username) : undefined
  }
  const userKeyOf = (a: LoginAttempt, state: LockoutState | undefined) =>
    state ? `u:${state.userId}:${state.generation}` : `n:${a.username}`

  async function refuse(
    a: LoginAttempt,
    why: 'login_user' | 'login_ip' | 'locked_out',
    msLeft: number,
    userId: string | null,
  ): Promise<never> {
    metrics.rateLimited(why === 'locked_out' ? 'login_user' : why)
    await audit.record({
      event: 'login_failed',
      outcome: 'failure',
      userId,
      username: a.entered ?? a.username,
      details: { reason: why === 'locked_out' ? 'locked_out' : 'throttled', limit: why },
      context: a.context ?? { ip: a.ip, userAgent: null },
    })
    // The same answer for throttling and lockout: it must not tell an attacker which it is.
    throw new GatehouseError('rate_limited', {
      detail: 'too many failed login attempts; try again later',
      retryAfterSec: Math.max(1, Math.ceil(msLeft / 1000)),
    })
  }

  function remember(a: LoginAttempt, reservation: Reservation): void {
    const key = pendingKey(a)
    const list = pending.get(key)
    if (list) {
      list.push(reservation)
      return
    }
    // A caller that never reports an outcome must not grow this map without bound.
    if (pending.size >= MAX_PENDING_KEYS) {
      const oldest = pending.keys().next()
      if (!oldest.done) pending.delete(oldest.value)
    }
    pending.set(key, [reservation])
  }

  function takeReservation(a: LoginAttempt): Reservation | undefined {
    const key = pendingKey(a)
    const list = pending.get(key)
    const reservation = list?.shift()
    if (list?.length === 0) pending.delete(key)
    return reservation
  }

  async function giveBack(r: Reservation): Promise<void> {
    await perUser.giveBack(r.userKey)
    if (r.ipKey) await perIp.giveBack(r.ipKey)
  }

  async function lockIfDue(a: LoginAttempt, userId: string, nowMs: number): Promise<void> {
    const untilMs = nowMs + cfg.lockoutDurationSec * 1000
    if (!(await lockIfThresholdReached(db, userId, cfg.lockoutThreshold, nowMs, untilMs))) return
    await audit.record({
      event: 'account_locked',
      outcome: 'success',
      userId,
      username: a.entered ?? a.username,
      details: {
        reason: 'consecutive_failures',
        failures: cfg.lockoutThreshold,
        until: new Date(untilMs).toISOString(),
      },
      context: a.context ?? { ip: a.ip, userAgent: null },
    })
  }

  return {
    async beforeAttempt(a) {
      const nowMs = clock.now().getTime()
      const state = await lookup(a)
      if (state?.lockedUntil != null && state.lockedUntil > nowMs)
        return refuse(a, 'locked_out', state.lockedUntil - nowMs, state.userId)

      const reservation: Reservation = {
        userKey: userKeyOf(a, state),
        ipKey: a.ip,
        userId: state?.userId ?? null,
      }
      const user = await perUser.hit(reservation.userKey)
      if (user.count > cfg.loginMaxFailures) {
        await perUser.giveBack(reservation.userKey)
        return refuse(a, 'login_user', user.msLeft, reservation.userId)
      }
      if (reservation.ipKey) {
        const ip = await perIp.hit(reservation.ipKey)
        if (ip.count > cfg.ipLoginMaxFailures) {
          await giveBack(reservation)
          return refuse(a, 'login_ip', ip.msLeft, reservation.userId)
        }
      }
      if (state) {
        if (!state.stored) await ensureLockoutRow(db, state.userId, nowMs)
        if (!(await reserveAttempt(db, state.userId, cfg.lockoutThreshold, nowMs))) {
          // Locked meanwhile by a parallel attempt, or the last attempts are all in flight.
          await giveBack(reservation)
          const now = await findLockout(db, state.userId)
          const lockedMs = (now?.lockedUntil ?? 0) - nowMs
          return refuse(a, 'locked_out', lockedMs > 0 ? lockedMs : 1000, state.userId)
        }
      }
      remember(a, reservation)
    },

    async recordFailure(a) {
      const nowMs = clock.now().getTime()
      metrics.login('failure')
      const reservation = takeReservation(a)
      let userId = reservation?.userId ?? null
      if (!reservation) {
        // Not reserved (a wrong second factor): count it now, past the limit or not.
        const state = await lookup(a)
        await perUser.hit(userKeyOf(a, state))
        if (a.ip) await perIp.hit(a.ip)
        if (state) {
          if (!state.stored) await ensureLockoutRow(db, state.userId, nowMs)
          await addFailure(db, state.userId, nowMs)
          userId = state.userId
        }
      }
      if (userId !== null) await lockIfDue(a, userId, nowMs)
    },

    async releaseAttempt(a) {
      const reservation = takeReservation(a)
      if (!reservation) return
      await giveBack(reservation)
      if (reservation.userId) await releaseAttempt(db, reservation.userId, clock.now().getTime())
    },

    async recordSuccess(a) {
      metrics.login('success')
      const reservation = takeReservation(a)
      if (reservation) await giveBack(reservation)
      const userId = reservation?.userId ?? a.userId
      if (userId) await resetFailures(db, userId, clock.now().getTime())
    },
  }
}
