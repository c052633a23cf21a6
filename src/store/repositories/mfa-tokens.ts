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
 * Takes one of the token's tries and holds the token until `holdUntil` while a code is
 * checked against it, in one conditional write: the token must be unspent, unexpired, have
 * tries left and be held by no other check. Parallel guesses cannot exceed the limit, and two
 * right codes at once cannot both be spent on it. `busy`: another check holds it now.
 */
export async function holdMfaToken(
  db: Db,
  tokenHash: string,
  now: number,
  maxAttempts: number,
  holdUntil: number,
): Promise<'held' | 'busy' | 'dead'> {
  const res = await db
    .updateTable('mfa_tokens')
    .set((eb) => ({ attempts: eb('attempts', '+', 1), checking_until: holdUntil }))
    .where('token_hash', '=', tokenHash)
    .where('spent_at', 'is', null)
    .where('expires_at', '>', now)
    .where('attempts', '<', maxAttempts)
    .where((eb) => eb.or([eb('checking_until', 'is', null), eb('checking_until', '<=', now)]))
    .executeTakeFirst()
  if (Number(res.numUpdatedRows) === 1) return 'held'
  const row = await findMfaToken(db, tokenHash)
  const live =
    row !== undefined &&
    row.spent_at === null &&
    Number(row.expires_at) > now &&
    row.attempts < maxAttempts
  return live ? 'busy' : 'dead'
}

/** Lets go of a hold whose check did not spend the token. */
export async function releaseMfaToken(db: Db, tokenHash: string, holdUntil: number): Promise<void> {
  await db
    .updateTable('mfa_tokens')
    .set({ checking_until: null })
    .where('token_hash', '=', tokenHash)
    .where('checking_until', '=', holdUntil)
    .execute()
}

/** Spends the token after a right code; exactly one caller wins. */
export async function spendMfaToken(db: Db, tokenHash: string, now: number): Promise<boolean> {
  const res = await db
    .updateTable('mfa_tokens')
    .set({ spent_at: now, checking_until: null })
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
