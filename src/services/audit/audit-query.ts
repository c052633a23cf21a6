import type { Db } from '../../store/db.js'
import { queryAuditEvents, type AuditEventRow } from '../../store/repositories/audit-query.js'
import { GatehouseError } from '../errors.js'
import type { CursorCodec, Page } from '../pagination.js'
import type { AuditSealer } from './audit-sealer.js'

export interface AuditEvent {
  id: string
  time: Date
  event: string
  outcome: 'success' | 'failure'
  userId: string | null
  username: string | null
  ip: string | null
  userAgent: string | null
  actorId: string | null
  details: Record<string, unknown> | null
  /** The chain link (SPEC §4.14); null while the sealer has not reached the row. */
  hash: string | null
}

export interface AuditQuery {
  userId?: string
  event?: string
  since?: Date
  until?: Date
  limit: number
  cursor?: string
}

export type AuditReader = ReturnType<typeof createAuditReader>

function toEvent(row: AuditEventRow): AuditEvent {
  let details: Record<string, unknown> | null = null
  if (row.details !== null) {
    const parsed: unknown = JSON.parse(row.details)
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      details = parsed as Record<string, unknown>
  }
  return {
    id: String(row.id),
    time: new Date(Number(row.time)),
    event: row.event,
    outcome: row.outcome === 'failure' ? 'failure' : 'success',
    userId: row.user_id,
    username: row.username,
    ip: row.ip,
    userAgent: row.user_agent,
    actorId: row.actor_id,
    details,
    hash: row.hash,
  }
}

/** The admin's view of the audit log: filtered, newest first, paged by a signed cursor. */
export function createAuditReader(deps: { db: Db; cursors: CursorCodec; sealer: AuditSealer }) {
  const { db, cursors } = deps
  return {
    async query(q: AuditQuery): Promise<Page<AuditEvent>> {
      // Admins see every event recorded so far with its hash, not a moment before sealing.
      await deps.sealer.sealNow()
      let beforeId: number | undefined
      if (q.cursor !== undefined) {
        const { b } = cursors.decode(q.cursor)
        if (typeof b !== 'number' || !Number.isSafeInteger(b)) {
          throw new GatehouseError('validation_error', {
            detail: 'cursor: is not a cursor this server issued',
          })
        }
        beforeId = b
      }
      const rows = await queryAuditEvents(
        db,
        {
          userId: q.userId,
          event: q.event,
          sinceMs: q.since?.getTime(),
          untilMs: q.until?.getTime(),
          beforeId,
        },
        q.limit + 1,
      )
      const page = rows.slice(0, q.limit)
      const last = page.at(-1)
      return {
        items: page.map(toEvent),
        nextCursor: rows.length > q.limit && last ? cursors.encode({ b: Number(last.id) }) : null,
      }
    },
  }
}
