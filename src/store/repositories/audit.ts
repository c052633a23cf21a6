import type { Db } from '../db.js'
import { precompiledWrite } from '../precompiled.js'
import type { AuditEventsTable } from '../tables.js'

/** An event as written: every column but the id and the chain hash (the sealer's). */
export type NewAuditEvent = Omit<AuditEventsTable, 'id' | 'hash'>

export async function insertAuditEvent(db: Db, row: NewAuditEvent): Promise<void> {
  await insertAuditEventQuery(db, row)
}

// Every request that changes something writes one: built once (precompiled.ts).
const insertAuditEventQuery = precompiledWrite(
  [
    'time',
    'event',
    'outcome',
    'user_id',
    'username',
    'ip',
    'user_agent',
    'actor_id',
    'details',
  ] satisfies (keyof NewAuditEvent)[],
  (db, row: NewAuditEvent) => db.insertInto('audit_events').values(row),
)
