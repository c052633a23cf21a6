import type { Db } from '../db.js'
import { keysetPage, type KeysetPosition } from '../keyset.js'
import type { OidcClientsTable } from '../tables.js'

export type OidcClientRow = OidcClientsTable

export async function insertOidcClient(db: Db, row: OidcClientRow): Promise<void> {
  await db.insertInto('oidc_clients').values(row).execute()
}

export async function findOidcClient(db: Db, id: string): Promise<OidcClientRow | undefined> {
  return db.selectFrom('oidc_clients').selectAll().where('id', '=', id).executeTakeFirst()
}

/** Whether any application is registered at all. */
export async function anyOidcClient(db: Db): Promise<boolean> {
  return (
    (await db.selectFrom('oidc_clients').select('id').limit(1).executeTakeFirst()) !== undefined
  )
}

export async function listOidcClients(
  db: Db,
  opts: { limit: number; after?: KeysetPosition },
): Promise<OidcClientRow[]> {
  return keysetPage(db.selectFrom('oidc_clients').selectAll(), opts)
}

export async function updateOidcClient(
  db: Db,
  id: string,
  changes: { name: string; metadata: string; updated_at: number },
): Promise<boolean> {
  const res = await db
    .updateTable('oidc_clients')
    .set(changes)
    .where('id', '=', id)
    .executeTakeFirst()
  return Number(res.numUpdatedRows) === 1
}

/**
 * Deletes a client, the people's consents to it and what the provider stored for it (grants,
 * codes, tokens): none of them means anything without it, and a consent would still be listed
 * to its person. Meant for a transaction.
 */
export async function deleteOidcClient(db: Db, id: string): Promise<boolean> {
  const res = await db.deleteFrom('oidc_clients').where('id', '=', id).executeTakeFirst()
  if (Number(res.numDeletedRows) !== 1) return false
  await db.deleteFrom('oidc_consents').where('client_id', '=', id).execute()
  await db.deleteFrom('oidc_payloads').where('client_id', '=', id).execute()
  return true
}
