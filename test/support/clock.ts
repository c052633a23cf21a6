import { parseDuration } from '../../src/config/index.js'
import type { Clock } from '../../src/services/ports.js'

export interface FakeClock extends Clock {
  advance(duration: string): void
  set(date: Date): void
}

/** A clock that moves only when told, so TOTP steps and expiry are tested without sleeping. */
export function fakeClock(start = new Date('2026-01-01T00:00:00Z')): FakeClock {
  let nowMs = start.getTime()
  return {
    now: () => new Date(nowMs),
    advance(duration) {
      nowMs += parseDuration(duration) * 1000
    },
    set(date) {
      nowMs = date.getTime()
    },
  }
}
