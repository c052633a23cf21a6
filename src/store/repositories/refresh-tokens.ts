import type { Db } from '../db.js'
import { retryOnDeadlock } from '../errors.js'
import { precompiledWrite } from '../precompiled.js'
import type { RefreshTokensTable } from '../tables.js'
import { inTransaction } from '../transactions.js'

export type RefreshTokenRow = RefreshTokensTable

export async function insertRefreshToken(db: Db, row: RefreshTokenRow): Promise<void> {
  await insertRefreshTokenQuery(db, row)
}

// Every login writes one: built once (precompiled.ts).
const insertRefreshTokenQuery = precompiledWrite(
  [
    'id',
    'session_id',
    'token_hash',
    'created_at',
    'expires_at',
    'used_at',
    'successor_id',
    'successor_sealed',
  ] satisfies (keyof RefreshTokenRow)[],
  (db, row: RefreshTokenRow) => db.insertInto('refresh_tokens').values(row),
)

export async function findRefreshTokenByHash(
  db: Db,
  tokenHash: string,
): Promise<RefreshTokenRow | undefined> {
  return db
    .selectFrom('refresh_tokens')
    .selectAll()
    .where('token_hash', '=', tokenHash)
    .executeTakeFirst()
}

/**
 * Rotates `current` to `successor` in one transaction: the successor is inserted and the
 * current token marked used only if nobody marked it first. The conditional update's row
 * count decides the race; the loser's insert is rolled back, so exactly one successor is
 * ever minted for a refresh token.
 */
export async function rotateRefreshToken(
  db: Db,
  currentId: string,
  successor: RefreshTokenRow,
  successorSealed: string,
  now: number,
): Promise<boolean> {
  try {
    await inTransaction(db, async (trx) => {
      await trx.insertInto('refresh_tokens').values(successor).execute()
      const res = await trx
        .updateTable('refresh_tokens')
        .set({ used_at: now, successor_id: successor.id, successor_sealed: successorSealed })
        .where('id', '=', currentId)
        .where('used_at', 'is', null)
        .executeTakeFirst()
      if (Number(res.numUpdatedRows) !== 1) throw new LostRotationRace()
    })
    return true
  } catch (err) {
    if (err instanceof LostRotationRace) return false
    throw err
  }
}

class LostRotationRace extends Error {}

/**
 * Erases the sealed successors whose grace period is over, in every session: they are
 * kept only that long (SPEC §4.3), so a database dump never holds a live refresh token.
 */
export async function forgetExpiredSuccessors(db: Db, usedBefore: number): Promise<void> {
  // Rotations move rows within the used_at index this scans; on InnoDB the two deadlocked
  // now and then, failing the login or refresh that ran the sweep. It may simply run again.
  await retryOnDeadlock(() =>
    db
      .updateTable('refresh_tokens')
      .set({ successor_sealed: null })
      .where('successor_sealed', 'is not', null)
      .where('used_at', '<', usedBefore)
      .execute(),
  )
}
