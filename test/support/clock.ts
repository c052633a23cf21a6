import { parseDuration } from '../../src/config/index.js'
import type { Clock } from '../../src/services/ports.js'

export interface FakeClock extends Clock {
  advance(duration: string): void
  set(date: Date): void
  /** From now on each read moves the clock on by `ms`, as a real one moves while a request runs (0 stops it). */
  tickPerRead(ms: number): void
}

/** A clock that moves only when told, so TOTP steps and expiry are tested without sleeping. */
export function fakeClock(start = new Date('2026-01-01T00:00:00Z')): FakeClock {
  let nowMs = start.getTime()
  let tickMs = 0
  return {
    now() {
      const now = new Date(nowMs)
      nowMs += tickMs
      return now
    },
    tickPerRead(ms) {
      tickMs = ms
    },
    advance(duration) {
      nowMs += parseDuration(duration) * 1000
    },
    set(date) {
      nowMs = date.getTime()
    },
  }
}
