import type { Db } from '../db.js'
import { isUniqueViolation } from '../errors.js'
import type { TotpSecretsTable } from '../tables.js'
import { inTransaction } from '../transactions.js'

export type TotpSecretRow = TotpSecretsTable

const updated = (res: { numUpdatedRows: bigint }) => Number(res.numUpdatedRows) === 1

export async function findTotpSecret(db: Db, userId: string): Promise<TotpSecretRow | undefined> {
  return db.selectFrom('totp_secrets').selectAll().where('user_id', '=', userId).executeTakeFirst()
}

/**
 * Stores a pending secret, replacing a pending one. Returns false when TOTP is already on
 * (or a concurrent setup won the insert): the caller answers 409.
 */
export async function savePendingTotpSecret(
  db: Db,
  userId: string,
  sealed: string,
  now: number,
): Promise<boolean> {
  const res = await db
    .updateTable('totp_secrets')
    .set({ secret_sealed: sealed, created_at: now, last_step: null })
    .where('user_id', '=', userId)
    .where('enabled_at', 'is', null)
    .executeTakeFirst()
  if (updated(res)) return true
  try {
    await db
      .insertInto('totp_secrets')
      .values({
        user_id: userId,
        secret_sealed: sealed,
        enabled_at: null,
        last_step: null,
        created_at: now,
      })
      .execute()
    return true
  } catch (err) {
    if (isUniqueViolation(err)) return false // the row exists and is enabled: TOTP is on
    throw err
  }
}

/**
 * Turns the pending secret on, accepting `step` as the first used step. Conditional on the
 * secret being the one the code was checked against, so a setup racing with enable cannot
 * switch on a secret nobody confirmed.
 */
export async function enableTotpSecret(
  db: Db,
  userId: string,
  sealed: string,
  step: number,
  now: number,
): Promise<boolean> {
  const res = await db
    .updateTable('totp_secrets')
    .set({ enabled_at: now, last_step: step })
    .where('user_id', '=', userId)
    .where('secret_sealed', '=', sealed)
    .where('enabled_at', 'is', null)
    .executeTakeFirst()
  return updated(res)
}

/**
 * Accepts a code's time step only if it is later than the last accepted one: one
 * conditional write, so two requests with the same code cannot both pass on any instance.
 */
export async function acceptTotpStep(db: Db, userId: string, step: number): Promise<boolean> {
  const res = await db
    .updateTable('totp_secrets')
    .set({ last_step: step })
    .where('user_id', '=', userId)
    .where('enabled_at', 'is not', null)
    .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]))
    .executeTakeFirst()
  return updated(res)
}

/** Enrols an enabled secret directly (CLI, import), replacing any existing one. */
export async function replaceEnabledTotpSecret(
  db: Db,
  userId: string,
  sealed: string,
  now: number,
): Promise<void> {
  await inTransaction(db, async (trx) => {
    await trx.deleteFrom('totp_secrets').where('user_id', '=', userId).execute()
    await insertEnabledTotpSecret(trx, userId, sealed, now)
  })
}

/** An enabled secret for a user who has none (import, inside the user's creating transaction). */
export async function insertEnabledTotpSecret(
  db: Db,
  userId: string,
  sealed: string,
  now: number,
): Promise<void> {
  await db
    .insertInto('totp_secrets')
    .values({
      user_id: userId,
      secret_sealed: sealed,
      enabled_at: now,
      last_step: null,
      created_at: now,
    })
    .execute()
}

export async function deleteTotpSecret(db: Db, userId: string): Promise<void> {
  await db.deleteFrom('totp_secrets').where('user_id', '=', userId).execute()
}

/** Removes the user's secret if it was set up or enabled at or after `sinceMs`; true if so. */
export async function deleteTotpSecretAddedSince(
  db: Db,
  userId: string,
  sinceMs: number,
): Promise<boolean> {
  const res = await db
    .deleteFrom('totp_secrets')
    .where('user_id', '=', userId)
    .where((eb) => eb.or([eb('created_at', '>=', sinceMs), eb('enabled_at', '>=', sinceMs)]))
    .executeTakeFirst()
  return Number(res.numDeletedRows) > 0
}

export async function listSealedTotpSecrets(
  db: Db,
): Promise<Pick<TotpSecretRow, 'user_id' | 'secret_sealed'>[]> {
  return db.selectFrom('totp_secrets').select(['user_id', 'secret_sealed']).execute()
}

/** Swaps one envelope for another, only if nobody replaced the secret meanwhile. */
export async function resealTotpSecret(
  db: Db,
  userId: string,
  from: string,
  to: string,
): Promise<boolean> {
  const res = await db
    .updateTable('totp_secrets')
    .set({ secret_sealed: to })
    .where('user_id', '=', userId)
    .where('secret_sealed', '=', from)
    .executeTakeFirst()
  return updated(res)
}
