import type { Db } from '../db.js'
import { precompiledWrite } from '../precompiled.js'
import type { SessionsTable } from '../tables.js'
import { inTransaction } from '../transactions.js'

export type SessionRow = SessionsTable

export async function insertSession(db: Db, row: SessionRow): Promise<void> {
  await insertSessionQuery(db, row)
}

// Every login writes one: built once (precompiled.ts).
const insertSessionQuery = precompiledWrite(
  [
    'id',
    'user_id',
    'amr',
    'created_at',
    'last_used_at',
    'ended_at',
    'end_reason',
    'ip',
    'user_agent',
  ] satisfies (keyof SessionRow)[],
  (db, row: SessionRow) => db.insertInto('sessions').values(row),
)

export async function findSession(db: Db, id: string): Promise<SessionRow | undefined> {
  return db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst()
}

/** Which of the given sessions have ended (or never existed): one query for a batch of checks. */
export async function endedSessionIds(db: Db, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set()
  const alive = await db
    .selectFrom('sessions')
    .select('id')
    .where('id', 'in', ids)
    .where('ended_at', 'is', null)
    .execute()
  const aliveIds = new Set(alive.map((r) => r.id))
  return new Set(ids.filter((id) => !aliveIds.has(id)))
}

export async function listActiveSessions(db: Db, userId: string): Promise<SessionRow[]> {
  return db
    .selectFrom('sessions')
    .selectAll()
    .where('user_id', '=', userId)
    .where('ended_at', 'is', null)
    .orderBy('created_at', 'desc')
    .execute()
}

export async function touchSession(db: Db, id: string, now: number): Promise<void> {
  await db.updateTable('sessions').set({ last_used_at: now }).where('id', '=', id).execute()
}

/**
 * Ends sessions that are still alive and returns the ids that this call ended, so each end
 * is audited once even when two requests end the same session at the same time.
 */
export async function endSessions(
  db: Db,
  filter: { userId: string; sessionId?: string; exceptSessionId?: string },
  reason: string,
  now: number,
): Promise<string[]> {
  return inTransaction(db, async (trx) => {
    let q = trx
      .selectFrom('sessions')
      .select('id')
      .where('user_id', '=', filter.userId)
      .where('ended_at', 'is', null)
    if (filter.sessionId !== undefined) q = q.where('id', '=', filter.sessionId)
    if (filter.exceptSessionId !== undefined) q = q.where('id', '!=', filter.exceptSessionId)
    const candidates = (await q.execute()).map((r) => r.id)
    const ended: string[] = []
    for (const id of candidates) {
      const res = await trx
        .updateTable('sessions')
        .set({ ended_at: now, end_reason: reason })
        .where('id', '=', id)
        .where('ended_at', 'is', null)
        .executeTakeFirst()
      if (Number(res.numUpdatedRows) === 1) ended.push(id)
    }
    return ended
  })
}
