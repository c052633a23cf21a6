import { vi } from 'vitest'
import type { FakeClock } from './clock.js'

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
