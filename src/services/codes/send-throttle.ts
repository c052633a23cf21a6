import type { Db } from '../../store/db.js'
import {
  findCodeSends,
  insertCodeSends,
  updateCodeSends,
  type SendKey,
} from '../../store/repositories/code-sends.js'
import type { Clock } from '../ports.js'
import { CODE_SENDS } from './send-limits.js'

export type SendVerdict = { ok: true; sentAtMs: number } | { ok: false; retryAfterSec: number }

const { minuteMs: MINUTE_MS, hourMs: HOUR_MS, perHour: PER_HOUR } = CODE_SENDS
const RETRIES = 8

/**
 * SPEC §4.4: one code per minute and five per hour for each user, purpose and channel, in a
 * sliding window. The send times live in the database, and each send is a compare-and-set
 * on the row's version, so instances sharing a database share the limit and parallel
 * requests cannot squeeze in an extra message.
 */
export function createSendThrottle(deps: { db: Db; clock: Clock }) {
  const { db, clock } = deps

  function verdict(recent: number[], nowMs: number): SendVerdict {
    let waitMs = 0
    const last = Math.max(...recent)
    if (recent.length > 0 && nowMs - last < MINUTE_MS) waitMs = last + MINUTE_MS - nowMs
    if (recent.length >= PER_HOUR) {
      const oldest = Math.min(...recent.slice(-PER_HOUR))
      waitMs = Math.max(waitMs, oldest + HOUR_MS - nowMs)
    }
    return waitMs > 0
      ? { ok: false, retryAfterSec: Math.ceil(waitMs / 1000) }
      : { ok: true, sentAtMs: nowMs }
  }

  return {
    /** Takes a send slot if one is free now; otherwise says how long to wait. */
    async reserve(key: SendKey): Promise<SendVerdict> {
      for (let i = 0; i < RETRIES; i++) {
        const nowMs = clock.now().getTime()
        const row = await findCodeSends(db, key)
        if (!row) {
          if (await insertCodeSends(db, key, [nowMs])) return { ok: true, sentAtMs: nowMs }
          continue
        }
        const recent = (JSON.parse(row.sent_at) as number[]).filter((t) => t > nowMs - HOUR_MS)
        const v = verdict(recent, nowMs)
        if (!v.ok) return v
        if (await updateCodeSends(db, key, [...recent, nowMs].slice(-PER_HOUR), row.version))
          return { ok: true, sentAtMs: nowMs }
      }
      // Lost every race: somebody else is sending right now, which the minute limit forbids anyway.
      return { ok: false, retryAfterSec: 60 }
    },

    /**
     * Gives back a slot whose message never left (the provider failed): SPEC §3 says a failed
     * delivery does not use up the send limit, so the user can ask again at once.
     */
    async release(key: SendKey, sentAtMs: number): Promise<void> {
      for (let i = 0; i < RETRIES; i++) {
        const row = await findCodeSends(db, key)
        if (!row) return
        const sentAt = JSON.parse(row.sent_at) as number[]
        const at = sentAt.lastIndexOf(sentAtMs)
        if (at < 0) return
        sentAt.splice(at, 1)
        if (await updateCodeSends(db, key, sentAt, row.version)) return
      }
    },
  }
}
