import type { Db } from '../db.js'
import type { MfaTokensTable } from '../tables.js'

export type MfaTokenRow = MfaTokensTable

export async function insertMfaToken(
  db: Db,
  row: MfaTokenRow,
  forgetBefore: number,
): Promise<void> {
  // Expired tokens are useless; dropping them here keeps the table small without a job.
  await db.deleteFrom('mfa_tokens').where('expires_at', '<', forgetBefore).execute()
  await db.insertInto('mfa_tokens').values(row).execute()
}

export async function findMfaToken(db: Db, tokenHash: string): Promise<MfaTokenRow | undefined> {
  return db
    .selectFrom('mfa_tokens')
    .selectAll()
    .where('token_hash', '=', tokenHash)
    .executeTakeFirst()
}

/**
 * Takes one of the token's tries before a code is checked, in one conditional write: the
 * token must be unspent, unexpired and have tries left. Parallel guesses cannot exceed the limit.
 */
export async function takeMfaAttempt(
  db: Db,
  tokenHash: string,
  now: number,
  maxAttempts: number,
): Promise<boolean> {
  const res = await db
    .updateTable('mfa_tokens')
    .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
    .where('token_hash', '=', tokenHash)
    .where('spent_at', 'is', null)
    .where('expires_at', '>', now)
    .where('attempts', '<', maxAttempts)
    .executeTakeFirst()
  return Number(res.numUpdatedRows) === 1
}

/** Spends the token after a right code; exactly one caller wins. */
export async function spendMfaToken(db: Db, tokenHash: string, now: number): Promise<boolean> {
  const res = await db
    .updateTable('mfa_tokens')
    .set({ spent_at: now })
    .where('token_hash', '=', tokenHash)
    .where('spent_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst()
  return Number(res.numUpdatedRows) === 1
}

/**
 * Spends every pending second step of a user: when all their sessions end (password change
 * or reset, "this wasn't me", lock, disable), a sign-in half done before must not finish.
 */
export async function spendMfaTokensOf(db: Db, userId: string, now: number): Promise<void> {
  await db
    .updateTable('mfa_tokens')
    .set({ spent_at: now })
    .where('user_id', '=', userId)
    .where('spent_at', 'is', null)
    .execute()
}
