import type { Db } from '../db.js'
import { keysetPage, type KeysetPosition } from '../keyset.js'
import type { ApiKeysTable } from '../tables.js'

export type ApiKeyRow = Omit<ApiKeysTable, 'key_hash'>

const publicColumns = [
  'id',
  'name',
  'owner',
  'scopes',
  'created_by',
  'created_at',
  'last_used_at',
  'revoked_at',
] as const

export async function insertApiKey(db: Db, row: ApiKeysTable): Promise<void> {
  await db.insertInto('api_keys').values(row).execute()
}

/** A key that is still in force, found by the hash of the key the client sent. */
export async function findActiveApiKeyByHash(
  db: Db,
  keyHash: string,
): Promise<ApiKeyRow | undefined> {
  return db
    .selectFrom('api_keys')
    .select(publicColumns)
    .where('key_hash', '=', keyHash)
    .where('revoked_at', 'is', null)
    .executeTakeFirst()
}

export async function listActiveApiKeys(
  db: Db,
  opts: { limit: number; after?: KeysetPosition },
): Promise<ApiKeyRow[]> {
  const q = db.selectFrom('api_keys').select(publicColumns).where('revoked_at', 'is', null)
  return keysetPage(q, opts)
}

/** Revokes a key still in force; false when there is none (unknown or already revoked). */
export async function revokeApiKey(
  db: Db,
  id: string,
  now: number,
): Promise<ApiKeyRow | undefined> {
  const row = await db
    .selectFrom('api_keys')
    .select(publicColumns)
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst()
  if (!row) return undefined
  const res = await db
    .updateTable('api_keys')
    .set({ revoked_at: now })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst()
  return Number(res.numUpdatedRows) === 1 ? row : undefined
}

export async function touchApiKey(db: Db, id: string, now: number): Promise<void> {
  await db.updateTable('api_keys').set({ last_used_at: now }).where('id', '=', id).execute()
}
