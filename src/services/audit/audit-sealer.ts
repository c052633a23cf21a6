import type { Db } from '../../store/db.js'
import {
  hasUnsealedAuditEvents,
  sealAuditEvents,
  type StoredAuditEvent,
} from '../../store/repositories/audit-chain.js'
import { loggable, type WarningLog, type Clock } from '../ports.js'
import { chainHash, toChainRecord } from './chain.js'

export interface AuditSealer {
  /** Asks for a sealing pass soon; never waits and never throws (requests call it). */
  kick(): void
  /** Seals everything written so far (admin reads, `audit verify`, shutdown). */
  sealNow(): Promise<void>
  /** Stops the periodic pass and waits for the one running. */
  stop(): Promise<void>
}

const BATCH = 500

/** A row whose stored details are no JSON object still gets a hash: verify will flag it. */
function sealRow(previous: string, row: StoredAuditEvent): string {
  try {
    return chainHash(previous, toChainRecord(row))
  } catch {
    return chainHash(previous, toChainRecord({ ...row, details: null }))
  }
}

/**
 * Seals the audit chain in the background: `coalesceMs` after a write (one pass for every
 * write in that window, one pass at a time per instance) and, from the first write on, every
 * `intervalMs` (rows another instance wrote before it died). A failed pass is logged and
 * retried by the next one; the rows stay, unsealed, until then.
 *
 * Waiting a little before sealing is what keeps the chain off the login path's cost: a pass is
 * two reads and a transaction of its own, and sealing at once after every login cost each
 * login ~0.7 ms of CPU; under load one pass now covers every login of its window.
 */
export function createAuditSealer(deps: {
  db: Db
  clock: Clock
  log: WarningLog
  intervalMs: number
  coalesceMs: number
}): AuditSealer {
  const { db, clock } = deps
  // Requests are numbered; a pass that starts after request n has begun covers every row
  // committed before n was made. `done` is the newest request a finished pass covered.
  let requested = 0
  let done = 0
  let running: Promise<void> | undefined

  async function sealAll(): Promise<void> {
    if (!(await hasUnsealedAuditEvents(db))) return
    const opts = { limit: BATCH, nowMs: clock.now().getTime() }
    while ((await sealAuditEvents(db, sealRow, opts)) === BATCH) opts.nowMs = clock.now().getTime()
  }

  async function drain(): Promise<void> {
    while (done < requested) {
      const target = requested
      await sealAll().catch((err: unknown) =>
        deps.log.warn(
          { err: loggable(err) },
          'sealing the audit chain failed; the next pass retries',
        ),
      )
      done = target
    }
  }

  function start(): void {
    running = drain().finally(() => {
      running = undefined
      // A request made between the loop's last check and here still gets its pass.
      if (done < requested) start()
    })
  }

  // The periodic pass starts with the first request, not with the sealer: the sealer is built
  // before the migrations run, and a pass on a database still being migrated (a slow
  // `gatehouse migrate` on MariaDB) found no chain columns yet.
  let timer: NodeJS.Timeout | undefined
  let stopped = false

  async function request(): Promise<void> {
    if (!timer && !stopped) {
      timer = setInterval(() => void request(), deps.intervalMs)
      timer.unref()
    }
    const target = ++requested
    if (!running) start()
    while (done < target && running) await running
  }

  let pendingKick: NodeJS.Timeout | undefined
  function kick(): void {
    if (pendingKick || stopped) return
    pendingKick = setTimeout(() => {
      pendingKick = undefined
      void request()
    }, deps.coalesceMs)
    pendingKick.unref()
  }

  return {
    kick,
    sealNow: request,
    async stop() {
      stopped = true
      clearInterval(timer)
      // A write's pass still waiting for its window runs now (a CLI command exits right after).
      if (pendingKick) {
        clearTimeout(pendingKick)
        pendingKick = undefined
        void request()
      }
      // Only the passes already asked for (every write asked for one): a pass of its own here
      // would touch the tables of a CLI run that has just found there are none.
      while (running) await running
    },
  }
}
