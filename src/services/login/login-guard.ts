/**
 * Brute-force protection around logins (SPEC §4.5). The login flow asks before checking any
 * factor and reports every outcome; a second-factor failure counts like a wrong password,
 * and only a completed login (both factors) resets the consecutive-failure count.
 * `username` is the normalized identifier as entered, so unknown usernames are throttled too.
 */
export interface LoginAttempt {
  username: string
  userId: string | null
  ip: string | null
}

export interface LoginGuard {
  /** Throws `rate_limited` (with retryAfterSec) when this username or IP may not try now. */
  beforeAttempt(attempt: LoginAttempt): Promise<void>
  recordFailure(attempt: LoginAttempt): Promise<void>
  recordSuccess(attempt: LoginAttempt): Promise<void>
}

/** Until limits are configured (issue 5), every attempt is allowed and nothing is counted. */
export const unlimitedLoginGuard: LoginGuard = {
  beforeAttempt: () => Promise.resolve(),
  recordFailure: () => Promise.resolve(),
  recordSuccess: () => Promise.resolve(),
}
