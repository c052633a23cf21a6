import type { Db } from '../db.js'
import type { WebauthnChallengesTable } from '../tables.js'

export type ChallengeRow = WebauthnChallengesTable
export type ChallengePurpose = ChallengeRow['purpose']

export async function insertChallenge(
  db: Db,
  row: ChallengeRow,
  forgetBefore: number,
): Promise<void> {
  // Expired challenges are useless; dropping them here keeps the table small without a job.
  await db.deleteFrom('webauthn_challenges').where('expires_at', '<', forgetBefore).execute()
  await db.insertInto('webauthn_challenges').values(row).execute()
}

/**
 * Spends the live challenge with this id in one conditional write and returns it; undefined
 * when it is unknown, of another purpose, expired, or spent (by this or another instance).
 */
export async function consumeChallengeById(
  db: Db,
  id: string,
  purpose: ChallengePurpose,
  now: number,
): Promise<ChallengeRow | undefined> {
  const res = await db
    .updateTable('webauthn_challenges')
    .set({ used_at: now })
    .where('id', '=', id)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst()
  if (Number(res.numUpdatedRows) !== 1) return undefined
  return db.selectFrom('webauthn_challenges').selectAll().where('id', '=', id).executeTakeFirst()
}

/** The same, for a challenge named by its value and issued to this user. */
export async function consumeChallengeByValue(
  db: Db,
  challenge: string,
  purpose: ChallengePurpose,
  userId: string,
  now: number,
): Promise<boolean> {
  const res = await db
    .updateTable('webauthn_challenges')
    .set({ used_at: now })
    .where('challenge', '=', challenge)
    .where('purpose', '=', purpose)
    .where('user_id', '=', userId)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst()
  return Number(res.numUpdatedRows) === 1
}
