import type { Db } from '../../store/db.js'
import { afterCommit } from '../../store/transactions.js'
import type { LockoutState } from '../../store/repositories/lockouts.js'
import type { RequestContext } from '../audit/audit-log.js'
import { GatehouseError } from '../errors.js'

/**
 * One checked factor (a password or a second-factor code) as brute-force protection sees it
 * (SPEC §4.5). `username` is the normalized identifier as entered, so unknown usernames are
 * throttled too.
 */
export interface LoginAttempt {
  username: string
  userId: string | null
  ip: string | null
  /** Who asked, for the audit log (the identifier as typed and the user agent). */
  entered?: string
  context?: RequestContext
  /**
   * The named account's lockout state, when the caller has just read it with the account
   * (`null`: the identifier names none), so the guard's first look needs no read of its own.
   */
  lockout?: LockoutState | null
}

export interface AttemptScope {
  /** Both factors passed: a completed login, which resets the consecutive-failure count. */
  succeeded(): void
  /**
   * Writes what a success writes (the reset) into the caller's transaction, so a login's
   * writes share one commit instead of each paying for its own; unless that transaction
   * commits, the guard writes the reset again itself.
   */
  writeSuccess(trx: Db): Promise<void>
}

/**
 * Brute-force protection around every password or code check: logins, second factors, and
 * the password re-checks of signed-in users (SPEC §4.2).
 *
 * `withAttempt` reserves the attempt before `check` runs (so parallel guesses never get
 * more checks than the limits allow; a refused attempt throws `rate_limited` and nothing is
 * checked) and settles it in a `finally`, on every path, as exactly one of:
 * - a failure, when `check` throws `invalid_credentials` or `invalid_code`: it counts for
 *   throttling and lockout;
 * - a success, when `check` called `scope.succeeded()`: the consecutive count resets;
 * - a release otherwise (a right password with the second factor pending, a re-check that
 *   passed, an account that refuses, any other error): nothing counted, nothing reset.
 * Holding the reservation in one scope means no new branch can forget to give it back (a
 * missed release once turned five successful 2FA disables into a lockout).
 */
export interface LoginGuard {
  withAttempt<T>(attempt: LoginAttempt, check: (scope: AttemptScope) => Promise<T>): Promise<T>
}

export type AttemptOutcome = 'failure' | 'success' | 'release'

/** The errors that mean "a wrong factor was checked". */
export function isWrongFactor(err: unknown): err is GatehouseError {
  return (
    err instanceof GatehouseError &&
    (err.code === 'invalid_credentials' || err.code === 'invalid_code')
  )
}

/**
 * Runs `check` and reports how it ended; the one place that turns a check's result into an
 * outcome, shared by every guard.
 */
export async function runAttempt<T>(
  check: (scope: AttemptScope) => Promise<T>,
  settle: (outcome: AttemptOutcome, successWritten: boolean) => Promise<void>,
  writeSuccess: (trx: Db) => Promise<void> = () => Promise.resolve(),
): Promise<T> {
  let succeeded = false
  let successWritten = false
  let outcome: AttemptOutcome = 'release'
  const scope: AttemptScope = {
    succeeded() {
      succeeded = true
    },
    async writeSuccess(trx) {
      await writeSuccess(trx)
      afterCommit(trx, () => (successWritten = true))
    },
  }
  try {
    const result = await check(scope)
    if (succeeded) outcome = 'success'
    return result
  } catch (err) {
    outcome = isWrongFactor(err) ? 'failure' : succeeded ? 'success' : 'release'
    throw err
  } finally {
    await settle(outcome, outcome === 'success' && successWritten)
  }
}
