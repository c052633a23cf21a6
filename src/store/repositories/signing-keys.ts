import type { Db } from '../db.js'
import type { SigningKeysTable } from '../tables.js'

export type SigningKeyRow = SigningKeysTable

export async function insertSigningKey(db: Db, row: SigningKeyRow): Promise<void> {
  await db.insertInto('signing_keys').values(row).execute()
}

/** Every key, newest first. */
export async function listSigningKeys(db: Db): Promise<SigningKeyRow[]> {
  return db
    .selectFrom('signing_keys')
    .selectAll()
    .orderBy('created_at', 'desc')
    .orderBy('kid', 'desc')
    .execute()
}

export async function updateSealedPrivateKey(db: Db, kid: string, sealed: string): Promise<void> {
  await db
    .updateTable('signing_keys')
    .set({ private_key_sealed: sealed })
    .where('kid', '=', kid)
    .execute()
}

export async function deleteSigningKeys(db: Db, kids: readonly string[]): Promise<void> {
  if (kids.length === 0) return
  await db.deleteFrom('signing_keys').where('kid', 'in', kids).execute()
}
