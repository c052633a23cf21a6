import { afterAll, beforeAll, vi } from 'vitest'
import { fakeClock, type FakeClock } from './clock.js'

/**
 * rate-limiter-flexible reads `Date.now()` itself (STYLE §3): fake only `Date` and keep it
 * in step with the app's fake clock, so windows and lockouts move without sleeping.
 * Timers stay real, so database drivers and Redis keep working.
 */
export function syncDateWith(clock: FakeClock) {
  vi.useFakeTimers({ toFake: ['Date'] })
  vi.setSystemTime(clock.now())
  return {
    advance(duration: string) {
      clock.advance(duration)
      vi.setSystemTime(clock.now())
    },
    set(date: Date) {
      clock.set(date)
      vi.setSystemTime(date)
    },
    restore() {
      vi.useRealTimers()
    },
  }
}

/**
 * For a whole suite (useTestApp): a fake clock that moves `Date` with it, faked from
 * beforeAll to afterAll, so rate-limiter-flexible's counters (the per-destination code
 * limit, for one) move with `t.clock.advance` like everything else.
 */
export function useSyncedClock(start?: Date): FakeClock {
  const clock = fakeClock(start)
  let time: ReturnType<typeof syncDateWith> | undefined
  beforeAll(() => {
    time = syncDateWith(clock)
  })
  afterAll(() => time?.restore())
  return {
    now: () => clock.now(),
    advance(duration) {
      clock.advance(duration)
      vi.setSystemTime(clock.now())
    },
    set(date) {
      clock.set(date)
      vi.setSystemTime(date)
    },
    // Date stays where the last advance put it: the ticks are milliseconds.
    tickPerRead: (ms) => clock.tickPerRead(ms),
  }
}
