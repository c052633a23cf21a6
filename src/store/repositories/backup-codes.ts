import type { Db } from '../db.js'
import type { BackupCodesTable } from '../tables.js'
import { inTransaction } from '../transactions.js'

/** Replaces a user's whole set in one transaction: the old codes stop working at once. */
export async function replaceBackupCodes(
  db: Db,
  userId: string,
  rows: BackupCodesTable[],
): Promise<void> {
  await inTransaction(db, async (trx) => {
    await trx.deleteFrom('backup_codes').where('user_id', '=', userId).execute()
    if (rows.length > 0) await trx.insertInto('backup_codes').values(rows).execute()
  })
}

/** Spends a code: one conditional write, so a code used twice at once succeeds once. */
export async function consumeBackupCode(
  db: Db,
  userId: string,
  codeHashes: readonly string[],
  now: number,
): Promise<boolean> {
  if (codeHashes.length === 0) return false
  const res = await db
    .updateTable('backup_codes')
    .set({ used_at: now })
    .where('user_id', '=', userId)
    .where('code_hash', 'in', codeHashes)
    .where('used_at', 'is', null)
    .executeTakeFirst()
  return Number(res.numUpdatedRows) === 1
}

export async function countUnusedBackupCodes(db: Db, userId: string): Promise<number> {
  const row = await db
    .selectFrom('backup_codes')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('user_id', '=', userId)
    .where('used_at', 'is', null)
    .executeTakeFirstOrThrow()
  return Number(row.n)
}

export async function deleteBackupCodes(db: Db, userId: string): Promise<void> {
  await db.deleteFrom('backup_codes').where('user_id', '=', userId).execute()
}

/** Removes the codes issued at or after `sinceMs`; returns how many were still unused. */
export async function deleteBackupCodesIssuedSince(
  db: Db,
  userId: string,
  sinceMs: number,
): Promise<number> {
  const unused = await db
    .selectFrom('backup_codes')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('user_id', '=', userId)
    .where('created_at', '>=', sinceMs)
    .where('used_at', 'is', null)
    .executeTakeFirstOrThrow()
  await db
    .deleteFrom('backup_codes')
    .where('user_id', '=', userId)
    .where('created_at', '>=', sinceMs)
    .execute()
  return Number(unused.n)
}
