import type { Insertable } from 'kysely'
import type { Db } from '../db.js'
import type { AuditEventsTable } from '../tables.js'

export type NewAuditEvent = Insertable<AuditEventsTable>

export async function insertAuditEvent(db: Db, row: NewAuditEvent): Promise<void> {
  await db.insertInto('audit_events').values(row).execute()
}
