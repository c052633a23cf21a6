import type { Db } from '../db.js'
import type { OneTimeCodesTable } from '../tables.js'
import { inTransaction } from '../transactions.js'

export type OneTimeCodeRow = OneTimeCodesTable
export type CodePurpose = OneTimeCodesTable['purpose']

/**
 * Stores a new code and retires the earlier ones of the same user, purpose and channel, so
 * only the newest code works. Rows over a day old are dropped on the way.
 */
export async function insertCodeRetiringOthers(
  db: Db,
  row: OneTimeCodeRow,
  forgetBefore: number,
): Promise<void> {
  await inTransaction(db, async (trx) => {
    await trx
      .updateTable('one_time_codes')
      .set({ used_at: row.created_at })
      .where('user_id', '=', row.user_id)
      .where('purpose', '=', row.purpose)
      .where('channel', '=', row.channel)
      .where('used_at', 'is', null)
      .execute()
    await trx
      .deleteFrom('one_time_codes')
      .where('user_id', '=', row.user_id)
      .where('created_at', '<', forgetBefore)
      .execute()
    await trx.insertInto('one_time_codes').values(row).execute()
  })
}

/** Codes that may still be tried: unused, unexpired and with tries left; newest first. */
export async function findLiveCodes(
  db: Db,
  q: {
    userId: string
    purpose: CodePurpose
    channel?: 'email' | 'sms'
    now: number
    maxAttempts: number
  },
): Promise<OneTimeCodeRow[]> {
  let query = db
    .selectFrom('one_time_codes')
    .selectAll()
    .where('user_id', '=', q.userId)
    .where('purpose', '=', q.purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', q.now)
    .where('attempts', '<', q.maxAttempts)
  if (q.channel) query = query.where('channel', '=', q.channel)
  return query.orderBy('created_at', 'desc').limit(4).execute()
}

/**
 * Takes one of the code's tries before the code is compared, in one conditional write:
 * parallel guesses can never get more comparisons than the limit allows.
 */
export async function takeCodeAttempt(
  db: Db,
  id: string,
  now: number,
  maxAttempts: number,
): Promise<boolean> {
  const res = await db
    .updateTable('one_time_codes')
    .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
    .where('id', '=', id)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .where('attempts', '<', maxAttempts)
    .executeTakeFirst()
  return Number(res.numUpdatedRows) === 1
}

/** Spends the code: exactly one caller wins. */
export async function markCodeUsed(db: Db, id: string, now: number): Promise<boolean> {
  const res = await db
    .updateTable('one_time_codes')
    .set({ used_at: now })
    .where('id', '=', id)
    .where('used_at', 'is', null)
    .executeTakeFirst()
  return Number(res.numUpdatedRows) === 1
}
