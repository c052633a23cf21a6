import type { Db } from '../db.js'
import { isUniqueViolation } from '../errors.js'
import type { AppSecretsTable } from '../tables.js'

export async function findAppSecret(db: Db, name: string): Promise<AppSecretsTable | undefined> {
  return db.selectFrom('app_secrets').selectAll().where('name', '=', name).executeTakeFirst()
}

/** Inserts the secret unless another instance got there first; false then. */
export async function insertAppSecret(db: Db, row: AppSecretsTable): Promise<boolean> {
  try {
    await db.insertInto('app_secrets').values(row).execute()
    return true
  } catch (err) {
    if (isUniqueViolation(err)) return false
    throw err
  }
}

export async function updateSealedAppSecret(db: Db, name: string, sealed: string): Promise<void> {
  await db.updateTable('app_secrets').set({ sealed }).where('name', '=', name).execute()
}
