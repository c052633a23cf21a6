import type { Db } from '../../store/db.js'
import { endedSessionIds } from '../../store/repositories/sessions.js'
import type { InvalidationBus } from '../cache/invalidation.js'
import { TtlCache } from '../cache/ttl-cache.js'
import type { Clock } from '../ports.js'

/**
 * Answers "is this session still alive?" on every authenticated request without a database
 * round trip each time. An instance that ends a session learns it at once (through the bus);
 * every other answer is re-read from the database after `revalidateMs`, which bounds how long
 * another instance can miss a revocation even when no bus message reaches it.
 */
export interface SessionGate {
  isAlive(sessionId: string): Promise<boolean>
  /** Records locally and announces that these sessions ended. */
  markEnded(sessionIds: string[]): void
}

const ENTRIES = 50_000
const DEAD_FOR_MS = 60 * 60 * 1000 // an ended session never comes back

export function createSessionGate(deps: {
  db: Db
  clock: Clock
  bus: InvalidationBus
  revalidateMs?: number
}): SessionGate {
  const revalidateMs = deps.revalidateMs ?? 2_000
  const alive = new TtlCache<string, boolean>(ENTRIES)
  const pending = new Map<string, Promise<boolean>>()

  const remember = (ids: string[]) => {
    const until = deps.clock.now().getTime() + DEAD_FOR_MS
    for (const id of ids) alive.set(id, false, until)
  }
  deps.bus.subscribe((m) => {
    if (m.kind === 'sessions_ended') remember(m.ids)
  })

  async function lookup(sessionId: string): Promise<boolean> {
    const ended = await endedSessionIds(deps.db, [sessionId])
    const isAlive = !ended.has(sessionId)
    const now = deps.clock.now().getTime()
    // A markEnded that raced with this read wins: never overwrite a known death.
    if (alive.get(sessionId, now) !== false) {
      alive.set(sessionId, isAlive, now + (isAlive ? revalidateMs : DEAD_FOR_MS))
    }
    return isAlive && alive.get(sessionId, now) !== false
  }

  return {
    async isAlive(sessionId) {
      const cached = alive.get(sessionId, deps.clock.now().getTime())
      if (cached !== undefined) return cached
      let inFlight = pending.get(sessionId)
      if (!inFlight) {
        inFlight = lookup(sessionId).finally(() => pending.delete(sessionId))
        pending.set(sessionId, inFlight)
      }
      return inFlight
    },

    markEnded(sessionIds) {
      if (sessionIds.length === 0) return
      remember(sessionIds)
      deps.bus.publish({ kind: 'sessions_ended', ids: sessionIds })
    },
  }
}
