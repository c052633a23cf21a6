import type { Db } from '../db.js'
import { isUniqueViolation } from '../errors.js'
import type { CodeSendsTable } from '../tables.js'

export interface SendKey {
  userId: string
  purpose: string
  channel: string
}

const byKey = (key: SendKey) => ({
  user_id: key.userId,
  purpose: key.purpose,
  channel: key.channel,
})

export async function findCodeSends(db: Db, key: SendKey): Promise<CodeSendsTable | undefined> {
  return db
    .selectFrom('code_sends')
    .selectAll()
    .where('user_id', '=', key.userId)
    .where('purpose', '=', key.purpose)
    .where('channel', '=', key.channel)
    .executeTakeFirst()
}

/** The first send for a key; false when a concurrent first send inserted it already. */
export async function insertCodeSends(db: Db, key: SendKey, sentAt: number[]): Promise<boolean> {
  try {
    await db
      .insertInto('code_sends')
      .values({ ...byKey(key), sent_at: JSON.stringify(sentAt), version: 1 })
      .execute()
    return true
  } catch (err) {
    if (isUniqueViolation(err)) return false
    throw err
  }
}

/** Compare-and-set on `version`: false when another send changed the row since it was read. */
export async function updateCodeSends(
  db: Db,
  key: SendKey,
  sentAt: number[],
  version: number,
): Promise<boolean> {
  const res = await db
    .updateTable('code_sends')
    .set({ sent_at: JSON.stringify(sentAt), version: version + 1 })
    .where('user_id', '=', key.userId)
    .where('purpose', '=', key.purpose)
    .where('channel', '=', key.channel)
    .where('version', '=', version)
    .executeTakeFirst()
  return Number(res.numUpdatedRows) === 1
}
