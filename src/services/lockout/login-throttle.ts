import type { Db } from '../../store/db.js'
import {
  ensureLockoutRow,
  findLockout,
  findLockoutByIdentifier,
  lockIfThresholdReached,
  releaseAttempt,
  reserveAttempt,
  resetFailures,
  type LockoutState,
} from '../../store/repositories/lockouts.js'
import type { ProfileReader } from '../accounts/user-profile.js'
import type { AuditLog } from '../audit/audit-log.js'
import { GatehouseError } from '../errors.js'
import {
  runAttempt,
  type AttemptOutcome,
  type LoginAttempt,
  type LoginGuard,
} from '../login/login-guard.js'
import type { SecurityMetrics } from '../metrics.js'
import type { Clock, Random } from '../ports.js'
import type { Counter, CounterFactory } from './counters.js'
import { ipLimitKey } from './ip-key.js'
import { isLookupSafe } from '../accounts/identifiers.js'

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

/**
 * One limit over a key: failures counted in a window, plus the attempts of this key being
 * checked right now (in flight). Both live in the same store (this process, or Redis), so
 * every instance sees every other's in-flight attempts.
 */
interface Budget {
  name: 'login_user' | 'login_ip'
  failures: Counter
  inFlight: Counter
  limit: number
}

type Admission = { ok: true } | { ok: false; wait: boolean; msLeft: number }
const ADMITTED: Admission = { ok: true }

/**
 * How long an attempt waits, at most, for in-flight checks of the same account or address
 * to settle before it is refused: longer than a password hash takes on a busy machine,
 * short enough that a client is not left hanging.
 */
const MAX_WAIT_MS = 5_000
// An in-flight mark outlives a crashed instance by at most this long.
const IN_FLIGHT_TTL_SEC = 120

/**
 * SPEC §4.5 login protection, three limits checked before any password is:
 * - per username (per account when the identifier names one, so username and email share
 *   it): LOGIN_MAX_FAILURES per LOGIN_FAILURE_WINDOW, unknown usernames included;
 * - per client IP: IP_LOGIN_MAX_FAILURES per LOGIN_FAILURE_WINDOW;
 * - per account: LOCKOUT_THRESHOLD consecutive failures, across windows, lock it for
 *   LOCKOUT_DURATION (kept in the database: shared without Redis, survives restarts, and
 *   `gatehouse user unlock` can lift it from another process).
 *
 * An attempt is admitted while failures plus attempts in flight stay within the limit, so N
 * parallel wrong passwords get at most the limit checked. Only failures refuse: an attempt
 * that finds the budget full of in-flight checks waits (boundedly) for them to settle
 * instead, so parallel right passwords are never throttled. A refused attempt is not checked
 * and not counted. Lockout and throttling answer alike.
 */
export function createLoginThrottle(deps: {
  db: Db
  clock: Clock
  random: Random
  counters: CounterFactory
  audit: AuditLog
  metrics: SecurityMetrics
  cfg: LoginLimitsConfig
  /** Told of a new lockout: the user object shows it as `locked` (user-profile.ts). */
  profiles?: Pick<ProfileReader, 'changed'>
}): LoginGuard {
  const { db, clock, audit, metrics, cfg } = deps
  const budget = (name: Budget['name'], limit: number): Budget => ({
    name,
    limit,
    failures: deps.counters(name, { limit, windowSec: cfg.loginFailureWindowSec }),
    inFlight: deps.counters(`${name}_in_flight`, {
      limit: Number.MAX_SAFE_INTEGER,
      windowSec: IN_FLIGHT_TTL_SEC,
    }),
  })
  const perUser = budget('login_user', cfg.loginMaxFailures)
  const perIp = budget('login_ip', cfg.ipLoginMaxFailures)

  const lookup = async (a: LoginAttempt): Promise<LockoutState | undefined> => {
    if (a.userId) return findLockout(db, a.userId)
    return isLookupSafe(a.username) ? findLockoutByIdentifier(db, a.username) : undefined
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

  /**
   * Marks this attempt in flight first, then reads the failures: a failure is counted before
   * its in-flight mark is dropped, so the sum is never under-read and parallel attempts
   * never both fit into the last place.
   */
  async function admit(b: Budget, key: string): Promise<Admission> {
    const inFlight = await b.inFlight.hit(key)
    const failed = await b.failures.peek(key)
    if (failed.count + inFlight.count <= b.limit) return { ok: true }
    await b.inFlight.giveBack(key)
    return { ok: false, wait: failed.count < b.limit, msLeft: failed.msLeft }
  }

  /** True when this call locked the account. */
  async function lockIfDue(a: LoginAttempt, userId: string, nowMs: number): Promise<boolean> {
    const untilMs = nowMs + cfg.lockoutDurationSec * 1000
    // With its audit event (and the owner's notice) or not at all.
    const locked = await audit.change(async (trx, record) => {
      if (!(await lockIfThresholdReached(trx, userId, cfg.lockoutThreshold, nowMs, untilMs)))
        return false
      await record({
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
      return true
    })
    if (locked) deps.profiles?.changed(userId)
    return locked
  }

  /** One try at admission: a reservation, a refusal, or "wait for in-flight checks". */
  async function tryReserve(
    a: LoginAttempt,
    firstTry: boolean,
  ): Promise<
    | { reservation: Reservation }
    /** `full`: the account whose consecutive count had no place left, when that was why. */
    | { wait: true; full?: string }
    | { refuse: 'login_user' | 'login_ip' | 'locked_out'; msLeft: number; userId: string | null }
  > {
    const nowMs = clock.now().getTime()
    // A retry looks again: the wait was for other attempts to change the state.
    const state = firstTry && a.lockout !== undefined ? (a.lockout ?? undefined) : await lookup(a)
    const userId = state?.userId ?? null
    if (state?.lockedUntil != null && state.lockedUntil > nowMs)
      return { refuse: 'locked_out', msLeft: state.lockedUntil - nowMs, userId }

    const reservation: Reservation = {
      userKey: userKeyOf(a, state),
      ipKey: a.ip ? ipLimitKey(a.ip) : null,
      userId,
    }
    // The two budgets are independent: asked side by side, a login waits for one round trip
    // to Redis instead of two. One refusing hands back the other's place.
    const [user, ip] = await Promise.all([
      admit(perUser, reservation.userKey),
      reservation.ipKey ? admit(perIp, reservation.ipKey) : ADMITTED,
    ])
    if (!user.ok || !ip.ok) {
      await Promise.all([
        user.ok && perUser.inFlight.giveBack(reservation.userKey),
        ip.ok && reservation.ipKey && perIp.inFlight.giveBack(reservation.ipKey),
      ])
      if (!user.ok) return user.wait ? { wait: true } : { refuse: 'login_user', ...user, userId }
      if (!ip.ok) return ip.wait ? { wait: true } : { refuse: 'login_ip', ...ip, userId }
    }
    if (state) {
      if (!state.stored) await ensureLockoutRow(db, state.userId, nowMs)
      if (!(await reserveAttempt(db, state.userId, cfg.lockoutThreshold, nowMs))) {
        await dropInFlight(reservation)
        const now = await findLockout(db, state.userId)
        const lockedMs = (now?.lockedUntil ?? 0) - nowMs
        // Locked meanwhile by a parallel attempt; otherwise the last attempts before the
        // threshold are all being checked right now, and this one waits for them.
        if (lockedMs > 0) return { refuse: 'locked_out', msLeft: lockedMs, userId }
        return { wait: true, full: state.userId }
      }
    }
    return { reservation }
  }

  async function reserve(a: LoginAttempt): Promise<Reservation> {
    let waitedMs = 0
    for (;;) {
      const verdict = await tryReserve(a, waitedMs === 0)
      if ('reservation' in verdict) return verdict.reservation
      if ('refuse' in verdict) return refuse(a, verdict.refuse, verdict.msLeft, verdict.userId)
      if (waitedMs >= MAX_WAIT_MS) {
        // Every check in flight has had time to settle, and the count is still full: it holds
        // failures whose lockout was never written (its transaction failed, or an instance
        // died holding reservations). Without this lock the account would refuse every
        // login, its owner's too, for good; with it, only for LOCKOUT_DURATION.
        const nowMs = clock.now().getTime()
        if (verdict.full !== undefined && (await lockIfDue(a, verdict.full, nowMs)))
          return refuse(a, 'locked_out', cfg.lockoutDurationSec * 1000, verdict.full)
        return refuse(a, 'login_user', 1000, a.userId)
      }
      // Polled rather than notified, so a check settling on another instance (through
      // Redis) wakes this one too; the jitter keeps waiters from retrying in lockstep.
      const pauseMs = 10 + (deps.random.bytes(1)[0]! % 40)
      await new Promise((resolve) => setTimeout(resolve, pauseMs))
      waitedMs += pauseMs
    }
  }

  async function dropInFlight(r: Reservation): Promise<void> {
    await Promise.all([
      perUser.inFlight.giveBack(r.userKey),
      r.ipKey && perIp.inFlight.giveBack(r.ipKey),
    ])
  }

  async function settle(
    a: LoginAttempt,
    r: Reservation,
    outcome: AttemptOutcome,
    successWritten: boolean,
  ) {
    const nowMs = clock.now().getTime()
    if (outcome === 'failure') {
      metrics.login('failure')
      // Counted before the in-flight mark goes (see admit).
      await Promise.all([perUser.failures.hit(r.userKey), r.ipKey && perIp.failures.hit(r.ipKey)])
      await dropInFlight(r)
      if (r.userId !== null) await lockIfDue(a, r.userId, nowMs)
      return
    }
    await dropInFlight(r)
    if (outcome === 'success') {
      metrics.login('success')
      if (r.userId && !successWritten) await resetFailures(db, r.userId, nowMs)
    } else if (r.userId) {
      await releaseAttempt(db, r.userId, nowMs)
    }
  }

  return {
    async withAttempt(a, check) {
      const reservation = await reserve(a)
      return runAttempt(
        check,
        (outcome, written) => settle(a, reservation, outcome, written),
        async (trx) => {
          if (reservation.userId)
            await resetFailures(trx, reservation.userId, clock.now().getTime())
        },
      )
    },
  }
}
