import type { Selectable } from 'kysely'
import type { Db } from '../db.js'
import type { AuditEventsTable } from '../tables.js'

export type AuditEventRow = Selectable<AuditEventsTable>

export interface AuditFilter {
  userId?: string
  event?: string
  sinceMs?: number
  untilMs?: number
  /** Only events older (smaller id) than this one: the page position. */
  beforeId?: number
}

/** Newest first: ids grow with insertion, so id order is time order without ties. */
export async function queryAuditEvents(
  db: Db,
  filter: AuditFilter,
  limit: number,
): Promise<AuditEventRow[]> {
  let q = db.selectFrom('audit_events').selectAll()
  if (filter.userId !== undefined) q = q.where('user_id', '=', filter.userId)
  if (filter.event !== undefined) q = q.where('event', '=', filter.event)
  if (filter.sinceMs !== undefined) q = q.where('time', '>=', filter.sinceMs)
  if (filter.untilMs !== undefined) q = q.where('time', '<=', filter.untilMs)
  if (filter.beforeId !== undefined) q = q.where('id', '<', filter.beforeId)
  return q.orderBy('id', 'desc').limit(limit).execute()
}
