import type { Selectable } from 'kysely'
import type { Db } from '../db.js'
import type { AuditEventsTable } from '../tables.js'

export type AuditEventRow = Selectable<AuditEventsTable>

/** The newest `limit` events, oldest first (as a log reads). */
export async function newestAuditEvents(db: Db, limit: number): Promise<AuditEventRow[]> {
  const rows = await db
    .selectFrom('audit_events')
    .selectAll()
    .orderBy('id', 'desc')
    .limit(limit)
    .execute()
  return rows.reverse()
}

/** Events written after the one with id `afterId`, oldest first. */
export async function auditEventsAfter(
  db: Db,
  afterId: number,
  limit: number,
): Promise<AuditEventRow[]> {
  return db
    .selectFrom('audit_events')
    .selectAll()
    .where('id', '>', afterId)
    .orderBy('id', 'asc')
    .limit(limit)
    .execute()
}
