import type { Db } from '../db.js'
import { keysetPage, type KeysetPosition } from '../keyset.js'
import type { ProductsTable } from '../tables.js'

export type ProductRow = ProductsTable

export async function insertProduct(db: Db, row: ProductRow): Promise<void> {
  await db.insertInto('products').values(row).execute()
}

export async function findProduct(db: Db, id: string): Promise<ProductRow | undefined> {
  return db.selectFrom('products').selectAll().where('id', '=', id).executeTakeFirst()
}

export async function listProducts(
  db: Db,
  opts: { limit: number; after?: KeysetPosition },
): Promise<ProductRow[]> {
  return keysetPage(db.selectFrom('products').selectAll(), opts)
}

export async function updateProduct(
  db: Db,
  id: string,
  values: Pick<ProductRow, 'name' | 'description' | 'price_cents' | 'quantity' | 'updated_at'>,
): Promise<boolean> {
  const res = await db.updateTable('products').set(values).where('id', '=', id).executeTakeFirst()
  return Number(res.numUpdatedRows) === 1
}

export async function deleteProduct(db: Db, id: string): Promise<boolean> {
  const res = await db.deleteFrom('products').where('id', '=', id).executeTakeFirst()
  return Number(res.numDeletedRows) === 1
}
