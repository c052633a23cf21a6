/**
 * When to refresh an access token: shortly before it expires, so requests never carry a dead
 * token, yet not so early that a short ACCESS_TOKEN_TTL refreshes in a loop. Timers are
 * injected so unit tests drive them with a fake clock.
 */
export function refreshDelayMs(expiresInSec: number): number {
  const ttlMs = Math.max(0, expiresInSec * 1000)
  // A minute early at most, a fifth of the lifetime at least for short tokens.
  const marginMs = Math.min(60_000, ttlMs * 0.2)
  return Math.max(0, Math.round(ttlMs - marginMs))
}

export interface TimerApi {
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export interface RefreshTimer {
  /** (Re)starts the countdown for a token that lives `expiresInSec` from now. */
  schedule(expiresInSec: number): void
  cancel(): void
}

export function createRefreshTimer(
  refresh: () => Promise<unknown>,
  timers: TimerApi = {
    setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
    clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
  },
): RefreshTimer {
  let handle: unknown
  const cancel = () => {
    if (handle !== undefined) timers.clearTimeout(handle)
    handle = undefined
  }
  return {
    schedule(expiresInSec) {
      cancel()
      handle = timers.setTimeout(() => {
        handle = undefined
        // A failed refresh surfaces through the next API call (sent to login); nothing to do here.
        refresh().catch(() => undefined)
      }, refreshDelayMs(expiresInSec))
    },
    cancel,
  }
}
