import type { Selectable } from 'kysely'
import type { Db } from '../db.js'
import { precompiledWrite } from '../precompiled.js'
import type { AuditEventsTable } from '../tables.js'
import { inTransaction } from '../transactions.js'

export type StoredAuditEvent = Selectable<AuditEventsTable>

export interface ChainHead {
  lastId: number
  lastHash: string
}

/** Whether any row waits for its hash: one index seek, so an idle sealer costs no lock. */
export async function hasUnsealedAuditEvents(db: Db): Promise<boolean> {
  const row = await db
    .selectFrom('audit_events')
    .select('id')
    .where('hash', 'is', null)
    .limit(1)
    .executeTakeFirst()
  return row !== undefined
}

export async function readChainHead(db: Db): Promise<ChainHead> {
  const head = await db
    .selectFrom('audit_chain')
    .select(['last_id', 'last_hash'])
    .where('id', '=', 1)
    .executeTakeFirstOrThrow()
  return { lastId: Number(head.last_id), lastHash: head.last_hash }
}

// Once per audit row, so per login: built and compiled once.
const setAuditHash = precompiledWrite(['id', 'hash'], (db, p: { id: number; hash: string }) =>
  db.updateTable('audit_events').set({ hash: p.hash }).where('id', '=', p.id),
)

/**
 * Seals up to `limit` unsealed rows in id order; returns how many. One transaction holds
 * the chain row for the whole batch (a row lock on PostgreSQL and MySQL, the write lock on
 * SQLite), so sealers on several instances take turns while writers never wait for them.
 *
 * Auto-increment ids are handed out at insert time, not at commit: on PostgreSQL and
 * MariaDB a transaction holding id 10 may commit after id 11 was sealed. Such a late row
 * (unsealed, at or below the head) is moved to a fresh id, which is above every id
 * handed out so far, and sealed after the rows before it; so once sealed, ids run in
 * chain order. (SQLite commits one writer at a time, so it never sees a late row.)
 */
export async function sealAuditEvents(
  db: Db,
  seal: (previousHash: string, row: StoredAuditEvent) => string,
  opts: { limit: number; nowMs: number },
): Promise<number> {
  return inTransaction(db, async (trx) => {
    // Writing the chain row first takes its lock before anything is read.
    await trx
      .updateTable('audit_chain')
      .set({ sealed_at: opts.nowMs })
      .where('id', '=', 1)
      .execute()
    const head = await readChainHead(trx)

    const late = await trx
      .selectFrom('audit_events')
      .selectAll()
      .where('hash', 'is', null)
      .where('id', '<=', head.lastId)
      .orderBy('id')
      .execute()
    for (const { id, hash: _hash, ...content } of late) {
      await trx.insertInto('audit_events').values(content).execute()
      await trx.deleteFrom('audit_events').where('id', '=', id).execute()
    }

    const pending = await trx
      .selectFrom('audit_events')
      .selectAll()
      .where('hash', 'is', null)
      .where('id', '>', head.lastId)
      .orderBy('id')
      .limit(opts.limit)
      .execute()
    let previous = head.lastHash
    for (const row of pending) {
      const hash = seal(previous, row)
      await setAuditHash(trx, { id: Number(row.id), hash })
      previous = hash
    }
    const last = pending.at(-1)
    if (last) {
      await trx
        .updateTable('audit_chain')
        .set({ last_id: Number(last.id), last_hash: previous })
        .where('id', '=', 1)
        .execute()
    }
    return pending.length
  })
}

/** Sealed rows after `afterId`, in chain order, for verification and export. */
export async function sealedAuditEventsAfter(
  db: Db,
  afterId: number,
  limit: number,
  sinceMs?: number,
): Promise<StoredAuditEvent[]> {
  let q = db
    .selectFrom('audit_events')
    .selectAll()
    .where('hash', 'is not', null)
    .where('id', '>', afterId)
  if (sinceMs !== undefined) q = q.where('time', '>=', sinceMs)
  return q.orderBy('id').limit(limit).execute()
}
