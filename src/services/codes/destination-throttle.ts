import type { CounterFactory } from '../lockout/counters.js'
import type { CodeChannel } from './one-time-codes.js'
import { CODE_SENDS } from './send-limits.js'

export type DestinationVerdict =
  { ok: true; release: () => Promise<void> } | { ok: false; retryAfterSec: number }

const { minuteMs, hourMs, perHour: PER_HOUR } = CODE_SENDS

/**
 * Verification codes per destination, whichever account asks: one a minute and five an hour
 * for each phone number and email address (the numbers SPEC §4.4 sets per user). The
 * per-user limit (send-throttle.ts) does not stop SMS pumping, where a script registers
 * account after account with one premium-rate number; this does.
 *
 * The counters live in Redis when REDIS_URL is set, so every instance shares them. Each is
 * a limit-1 counter whose window opens at the send it admits, i.e. a cooldown: the minute
 * one, and five hour-long slots, so a send needs a free slot and the sixth within an hour
 * waits for the oldest to run out, exactly like the per-user sliding log. Giving a send
 * back (the provider failed) frees its cooldowns at once.
 */
export function createDestinationThrottle(deps: { counters: CounterFactory }) {
  const perMinute = deps.counters('send_to:minute', { limit: 1, windowSec: minuteMs / 1000 })
  const perHour = deps.counters('send_to:hour', { limit: 1, windowSec: hourMs / 1000 })
  const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000))

  return {
    async reserve(channel: CodeChannel, to: string): Promise<DestinationVerdict> {
      // Email domains ignore case, and nearly every mailbox does too.
      const key = `${channel}:${channel === 'email' ? to.trim().toLowerCase() : to.trim()}`
      const minute = await perMinute.hit(key)
      if (minute.count > 1) return { ok: false, retryAfterSec: seconds(minute.msLeft) }
      let soonestMs = Infinity
      for (let i = 0; i < PER_HOUR; i++) {
        const slot = `${key}#${i}`
        // Atomic: of two parallel sends, only one sees 1 on a slot; the other tries the next.
        const hour = await perHour.hit(slot)
        if (hour.count === 1)
          return {
            ok: true,
            release: async () => {
              await perHour.forget(slot)
              await perMinute.forget(key)
            },
          }
        soonestMs = Math.min(soonestMs, hour.msLeft)
      }
      await perMinute.forget(key)
      return { ok: false, retryAfterSec: seconds(soonestMs) }
    },
  }
}
