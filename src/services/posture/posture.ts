import type { Db } from '../../store/db.js'
import {
  countActiveSessions,
  countUsersByRole,
  countUsersLowOnBackupCodes,
  countUsersSmsOnly,
  countUsersWithFactor,
  countUsersWithoutFactorByRole,
} from '../../store/repositories/posture.js'
import { loggable, type WarningLog, type Clock } from '../ports.js'

/** SPEC §4.15: how well the user base is protected, as the Prometheus gauges report it. */
export interface PostureSnapshot {
  usersByRole: Map<string, number>
  usersWithFactor: Record<string, number>
  usersWithoutFactorByRole: Map<string, number>
  usersLowOnBackupCodes: number
  usersSmsOnly: number
  sessionsActive: number
}

export type PostureReader = ReturnType<typeof createPostureReader>

const LOW_BACKUP_CODES = 3

/**
 * The posture figures, recomputed at most once per `maxAgeSec` of the injected clock
 * however often /metrics is scraped: each is an aggregate over every user, too dear to
 * run per scrape. Concurrent reads share one computation. A failed one is reported once,
 * keeps the last figures (none before the first success), and is retried after
 * `retryAfterSec`, so a scrape during a database outage does not hammer it.
 */
export function createPostureReader(deps: {
  db: Db
  clock: Clock
  maxAgeSec: number
  retryAfterSec: number
  refreshTtlSec: number
  log: WarningLog
}) {
  const { db, clock } = deps
  let last: { atMs: number; snapshot: PostureSnapshot } | undefined
  let failedAtMs: number | undefined
  let computing: Promise<PostureSnapshot | undefined> | undefined

  async function compute(nowMs: number): Promise<PostureSnapshot> {
    const [
      usersByRole,
      usersWithFactor,
      usersWithoutFactorByRole,
      usersLowOnBackupCodes,
      usersSmsOnly,
      sessionsActive,
    ] = await Promise.all([
      countUsersByRole(db),
      countUsersWithFactor(db),
      countUsersWithoutFactorByRole(db),
      countUsersLowOnBackupCodes(db, LOW_BACKUP_CODES),
      countUsersSmsOnly(db),
      countActiveSessions(db, nowMs - deps.refreshTtlSec * 1000),
    ])
    return {
      usersByRole,
      usersWithFactor,
      usersWithoutFactorByRole,
      usersLowOnBackupCodes,
      usersSmsOnly,
      sessionsActive,
    }
  }

  return {
    /** The current figures, or undefined while none could be computed yet. */
    async snapshot(): Promise<PostureSnapshot | undefined> {
      const nowMs = clock.now().getTime()
      const fresh = last !== undefined && nowMs - last.atMs < deps.maxAgeSec * 1000
      const resting = failedAtMs !== undefined && nowMs - failedAtMs < deps.retryAfterSec * 1000
      if (fresh || resting) return last?.snapshot
      computing ??= compute(nowMs)
        .then((snapshot) => {
          last = { atMs: nowMs, snapshot }
          failedAtMs = undefined
          return snapshot
        })
        .catch((err: unknown) => {
          failedAtMs = nowMs
          deps.log.warn({ err: loggable(err) }, 'posture metrics could not be computed')
          return last?.snapshot
        })
        .finally(() => {
          computing = undefined
        })
      return computing
    },
  }
}
