import type { Db } from '../../store/db.js'
import {
  deleteProduct,
  findProduct,
  insertProduct,
  listProducts,
  updateProduct,
  type ProductRow,
} from '../../store/repositories/products.js'
import { GatehouseError } from '../errors.js'
import { newId } from '../ids.js'
import { decodeCreatedAtCursor, pageOf, type CursorCodec, type Page } from '../pagination.js'
import type { Clock, Random } from '../ports.js'
import { centsToPrice, priceToCents } from './price.js'

export interface ProductInput {
  name: string
  description?: string
  price: number
  quantity: number
}

export interface Product {
  id: string
  name: string
  description: string
  price: number
  quantity: number
  createdAt: Date
  updatedAt: Date
}

export type Products = ReturnType<typeof createProducts>

const notFound = () => new GatehouseError('not_found', { detail: 'no such product' })

function toProduct(row: ProductRow): Product {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    price: centsToPrice(row.price_cents),
    quantity: row.quantity,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  }
}

function checkedValues(input: ProductInput) {
  if (!Number.isSafeInteger(input.quantity) || input.quantity < 0) {
    throw new GatehouseError('validation_error', { detail: 'quantity: must be an integer ≥ 0' })
  }
  return {
    name: input.name,
    description: input.description ?? '',
    price_cents: priceToCents(input.price),
    quantity: input.quantity,
  }
}

/** The example protected resource (SPEC §4.8); callers check permissions first. */
export function createProducts(deps: {
  db: Db
  clock: Clock
  random: Random
  cursors: CursorCodec
}) {
  const { db, clock, random, cursors } = deps
  return {
    async list(opts: { limit: number; cursor?: string }): Promise<Page<Product>> {
      const after = decodeCreatedAtCursor(cursors, opts.cursor)
      const rows = await listProducts(db, { limit: opts.limit + 1, after })
      return pageOf(cursors, rows, opts.limit, toProduct)
    },

    async get(id: string): Promise<Product> {
      const row = await findProduct(db, id)
      if (!row) throw notFound()
      return toProduct(row)
    },

    async create(input: ProductInput): Promise<Product> {
      const nowMs = clock.now().getTime()
      const row: ProductRow = {
        id: newId(random),
        ...checkedValues(input),
        created_at: nowMs,
        updated_at: nowMs,
      }
      await insertProduct(db, row)
      return toProduct(row)
    },

    async replace(id: string, input: ProductInput): Promise<Product> {
      const values = checkedValues(input)
      if (!(await updateProduct(db, id, { ...values, updated_at: clock.now().getTime() })))
        throw notFound()
      return this.get(id)
    },

    async remove(id: string): Promise<void> {
      if (!(await deleteProduct(db, id))) throw notFound()
    },
  }
}
