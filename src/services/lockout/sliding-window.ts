import type { Clock } from '../ports.js'
import type { CounterFactory } from './counters.js'

export type Verdict = { ok: true } | { ok: false; retryAfterSec: number }

export interface SlidingWindow {
  /** Counts one request for `key`; refused requests are not counted. */
  hit(key: string): Promise<Verdict>
}

/**
 * A sliding-window limit built from two fixed windows (the "sliding window counter"):
 * the previous window's count, weighted by how much of it still overlaps the last
 * `windowSec`, plus the current window's count. Unlike a bare fixed window it never lets
 * twice the limit through around a window boundary, and it costs two counters per key
 * instead of a log of timestamps.
 */
export function createSlidingWindow(deps: {
  counters: CounterFactory
  clock: Clock
  name: string
  limit: number
  windowSec: number
}): SlidingWindow {
  const { clock, limit, windowSec } = deps
  const windowMs = windowSec * 1000
  // Each fixed window's counter lives two windows, so it can be read as "previous".
  const counter = deps.counters(deps.name, { limit, windowSec: windowSec * 2 })

  return {
    async hit(key) {
      const nowMs = clock.now().getTime()
      const index = Math.floor(nowMs / windowMs)
      const elapsedMs = nowMs - index * windowMs
      const currentKey = `${key}@${index}`
      // Increment first: concurrent requests each see a count that includes the others.
      const [current, previous] = await Promise.all([
        counter.hit(currentKey),
        counter.peek(`${key}@${index - 1}`),
      ])
      const overlap = 1 - elapsedMs / windowMs
      if (previous.count * overlap + current.count <= limit) return { ok: true }
      await counter.giveBack(currentKey)
      return { ok: false, retryAfterSec: retryAfter(current.count - 1, previous.count) }

      // When would one more request fit? Within this window, once the previous window's
      // weight has decayed enough; otherwise in the next one, once this window's count (its
      // previous then) has decayed enough: a client that waits as long is let through.
      function retryAfter(counted: number, previousCount: number): number {
        const leftInWindowMs = windowMs - elapsedMs
        const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000))
        if (counted + 1 <= limit && previousCount > 0) {
          const neededOverlap = (limit - counted - 1) / previousCount
          const waitMs = windowMs * (1 - neededOverlap) - elapsedMs
          return seconds(Math.min(waitMs, leftInWindowMs))
        }
        const intoNextMs = windowMs * Math.min(1, Math.max(0, 1 - (limit - 1) / counted))
        return seconds(leftInWindowMs + intoNextMs)
      }
    },
  }
}
