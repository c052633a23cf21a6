import type { Db } from '../db.js'
import type { TotpSubjectsTable } from '../tables.js'

export type TotpSubjectRow = TotpSubjectsTable

export async function insertTotpSubject(db: Db, row: TotpSubjectRow): Promise<void> {
  await db.insertInto('totp_subjects').values(row).execute()
}

export async function findTotpSubject(
  db: Db,
  owner: string,
  username: string,
): Promise<TotpSubjectRow | undefined> {
  return db
    .selectFrom('totp_subjects')
    .selectAll()
    .where('owner', '=', owner)
    .where('username', '=', username)
    .executeTakeFirst()
}

/**
 * Records an accepted code's time step, but only if it is later than the last accepted one:
 * one conditional write, so two requests with the same code cannot both win (RFC 6238 §5.2).
 */
export async function acceptTotpStep(
  db: Db,
  id: string,
  step: number,
  now: number,
): Promise<boolean> {
  const res = await db
    .updateTable('totp_subjects')
    .set((eb) => ({
      last_step: step,
      verified_at: eb.fn.coalesce('verified_at', eb.val(now)),
    }))
    .where('id', '=', id)
    .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]))
    .executeTakeFirst()
  return Number(res.numUpdatedRows) === 1
}

export async function deleteTotpSubject(db: Db, owner: string, username: string): Promise<boolean> {
  const res = await db
    .deleteFrom('totp_subjects')
    .where('owner', '=', owner)
    .where('username', '=', username)
    .executeTakeFirst()
  return Number(res.numDeletedRows) > 0
}

export async function listTotpSecrets(
  db: Db,
): Promise<Pick<TotpSubjectRow, 'id' | 'secret_sealed'>[]> {
  return db.selectFrom('totp_subjects').select(['id', 'secret_sealed']).execute()
}

export async function updateTotpSecret(db: Db, id: string, sealed: string): Promise<void> {
  await db
    .updateTable('totp_subjects')
    .set({ secret_sealed: sealed })
    .where('id', '=', id)
    .execute()
}
