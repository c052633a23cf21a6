import type { Db } from '../db.js'
import { inTransaction } from '../transactions.js'
import type { OidcConsentsTable } from '../tables.js'

export type OidcConsentRow = OidcConsentsTable

export async function findOidcConsent(
  db: Db,
  accountId: string,
  clientId: string,
): Promise<OidcConsentRow | undefined> {
  return db
    .selectFrom('oidc_consents')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('client_id', '=', clientId)
    .executeTakeFirst()
}

/** Replaces one person's consent to one client. */
export async function saveOidcConsent(db: Db, row: OidcConsentRow): Promise<void> {
  await inTransaction(db, async (trx) => {
    await trx
      .deleteFrom('oidc_consents')
      .where('account_id', '=', row.account_id)
      .where('client_id', '=', row.client_id)
      .execute()
    await trx.insertInto('oidc_consents').values(row).execute()
  })
}

export async function listOidcConsents(db: Db, accountId: string): Promise<OidcConsentRow[]> {
  return db
    .selectFrom('oidc_consents')
    .selectAll()
    .where('account_id', '=', accountId)
    .orderBy('created_at')
    .execute()
}

export async function deleteOidcConsents(
  db: Db,
  accountId: string,
  clientId?: string,
): Promise<string[]> {
  let q = db.selectFrom('oidc_consents').select('client_id').where('account_id', '=', accountId)
  if (clientId !== undefined) q = q.where('client_id', '=', clientId)
  const clientIds = (await q.execute()).map((r) => r.client_id)
  if (clientIds.length === 0) return []
  await db
    .deleteFrom('oidc_consents')
    .where('account_id', '=', accountId)
    .where('client_id', 'in', clientIds)
    .execute()
  return clientIds
}
