import type { Db } from '../db.js'
import type { WebauthnCredentialsTable } from '../tables.js'

export type CredentialRow = WebauthnCredentialsTable

export async function insertCredential(db: Db, row: CredentialRow): Promise<void> {
  await db.insertInto('webauthn_credentials').values(row).execute()
}

export async function findCredentialByHash(
  db: Db,
  credentialIdHash: string,
): Promise<CredentialRow | undefined> {
  return db
    .selectFrom('webauthn_credentials')
    .selectAll()
    .where('credential_id_hash', '=', credentialIdHash)
    .executeTakeFirst()
}

export async function listCredentials(db: Db, userId: string): Promise<CredentialRow[]> {
  return db
    .selectFrom('webauthn_credentials')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .orderBy('id')
    .execute()
}

export async function countCredentials(db: Db, userId: string): Promise<number> {
  const row = await db
    .selectFrom('webauthn_credentials')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('user_id', '=', userId)
    .executeTakeFirstOrThrow()
  return Number(row.n)
}

/** Renames one of the user's passkeys; undefined when the user has no passkey with that id. */
export async function renameCredential(
  db: Db,
  userId: string,
  id: string,
  name: string,
): Promise<CredentialRow | undefined> {
  const res = await db
    .updateTable('webauthn_credentials')
    .set({ name })
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .executeTakeFirst()
  if (Number(res.numUpdatedRows) !== 1) return undefined
  return db
    .selectFrom('webauthn_credentials')
    .selectAll()
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .executeTakeFirst()
}

export async function deleteCredential(db: Db, userId: string, id: string): Promise<boolean> {
  const res = await db
    .deleteFrom('webauthn_credentials')
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .executeTakeFirst()
  return Number(res.numDeletedRows) === 1
}

/** Removes every passkey of a user; returns how many there were. */
export async function deleteCredentials(db: Db, userId: string): Promise<number> {
  const res = await db
    .deleteFrom('webauthn_credentials')
    .where('user_id', '=', userId)
    .executeTakeFirst()
  return Number(res.numDeletedRows)
}

/**
 * Removes the user's passkeys added at or after `sinceMs`, and the one with id `alsoId`;
 * returns the ids of those removed.
 */
export async function deleteCredentialsAddedSince(
  db: Db,
  userId: string,
  sinceMs: number,
  alsoId: string | undefined,
): Promise<string[]> {
  const rows = await db
    .selectFrom('webauthn_credentials')
    .select('id')
    .where('user_id', '=', userId)
    .where((eb) =>
      alsoId === undefined
        ? eb('created_at', '>=', sinceMs)
        : eb.or([eb('created_at', '>=', sinceMs), eb('id', '=', alsoId)]),
    )
    .execute()
  const ids = rows.map((r) => r.id)
  if (ids.length > 0)
    await db
      .deleteFrom('webauthn_credentials')
      .where('user_id', '=', userId)
      .where('id', 'in', ids)
      .execute()
  return ids
}

/**
 * Records a verified assertion's signature counter in one conditional write (WebAuthn §7.2
 * step 21): it must be above the stored one, or both must be 0 (an authenticator that does
 * not count). Two assertions racing with the same counter cannot both pass.
 */
export async function recordCredentialUse(
  db: Db,
  id: string,
  counter: number,
  now: number,
): Promise<boolean> {
  const res = await db
    .updateTable('webauthn_credentials')
    .set({ counter, last_used_at: now })
    .where('id', '=', id)
    .where('counter', counter === 0 ? '=' : '<', counter)
    .executeTakeFirst()
  return Number(res.numUpdatedRows) === 1
}
