import type { CounterFactory } from '../lockout/counters.js'
import { createSlidingWindow } from '../lockout/sliding-window.js'
import type { Clock } from '../ports.js'
import type { CodeChannel } from './one-time-codes.js'

export type DestinationVerdict =
  { ok: true; release: () => Promise<void> } | { ok: false; retryAfterSec: number }

/**
 * Verification codes per destination, whichever account asks: one a minute and five an hour
 * for each phone number and email address. The per-user limit (send-throttle.ts) does not
 * stop SMS pumping, where a script registers account after account with one premium-rate
 * number; this does. The counters live in Redis when REDIS_URL is set, so every instance
 * shares them.
 */
export function createDestinationThrottle(deps: { counters: CounterFactory; clock: Clock }) {
  const window = (name: string, limit: number, windowSec: number) =>
    createSlidingWindow({ counters: deps.counters, clock: deps.clock, name, limit, windowSec })
  const perMinute = window('send_to:minute', 1, 60)
  const perHour = window('send_to:hour', 5, 3600)

  return {
    async reserve(channel: CodeChannel, to: string): Promise<DestinationVerdict> {
      // Email domains ignore case, and nearly every mailbox does too.
      const key = `${channel}:${channel === 'email' ? to.trim().toLowerCase() : to.trim()}`
      const minute = await perMinute.hit(key)
      if (!minute.ok) return minute
      const hour = await perHour.hit(key)
      if (!hour.ok) {
        await perMinute.release(key, minute.atMs)
        return hour
      }
      return {
        ok: true,
        release: async () => {
          await perHour.release(key, hour.atMs)
          await perMinute.release(key, minute.atMs)
        },
      }
    },
  }
}
