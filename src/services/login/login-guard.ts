import type { RequestContext } from '../audit/audit-log.js'

/**
 * Brute-force protection around logins (SPEC §4.5). Every factor checked (password or
 * second-factor code) is preceded by `beforeAttempt`, which reserves the attempt atomically
 * (so parallel guesses can never get more checks than the limits allow), and followed by
 * exactly one of:
 * - `recordFailure`: the factor was wrong; the attempt counts for throttling and lockout.
 *   Without a preceding `beforeAttempt` it still counts (a wrong code after a right
 *   password), so a second factor cannot be guessed for free.
 * - `releaseAttempt`: the factor was right but the login is not complete (second factor
 *   pending, or the account refuses: disabled, locked by an admin); nothing is counted
 *   and the consecutive-failure count is NOT reset.
 * - `recordSuccess`: a completed login (both factors): resets the consecutive count.
 * `username` is the normalized identifier as entered, so unknown usernames are throttled too.
 */
export interface LoginAttempt {
  username: string
  userId: string | null
  ip: string | null
  /** Who asked, for the audit log (the identifier as typed and the user agent). */
  entered?: string
  context?: RequestContext
}

export interface LoginGuard {
  /** Throws `rate_limited` (with retryAfterSec) when this username or IP may not try now. */
  beforeAttempt(attempt: LoginAttempt): Promise<void>
  recordFailure(attempt: LoginAttempt): Promise<void>
  releaseAttempt(attempt: LoginAttempt): Promise<void>
  recordSuccess(attempt: LoginAttempt): Promise<void>
}

/** Every attempt allowed and nothing counted: for tools that log nobody in. */
export const unlimitedLoginGuard: LoginGuard = {
  beforeAttempt: () => Promise.resolve(),
  recordFailure: () => Promise.resolve(),
  releaseAttempt: () => Promise.resolve(),
  recordSuccess: () => Promise.resolve(),
}
