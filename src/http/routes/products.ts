import { Type } from 'typebox'
import type { Services } from '../../container.js'
import type { Product } from '../../services/products/products.js'
import { requireBearer } from '../auth.js'
import { requirePermission } from '../guards.js'
import { problems } from '../schemas/common.js'
import { DEFAULT_LIMIT, IdParams, PageQuery, pageSchema } from '../schemas/lists.js'
import { ProductRef } from '../schemas/products.js'
import type { App } from './types.js'

// Price precision (two decimals, exact cents) is checked by the service, which names the field.
const ProductBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  description: Type.Optional(Type.String({ maxLength: 2000 })),
  price: Type.Number({ minimum: 0 }),
  quantity: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
})

const productJson = (p: Product) => ({
  id: p.id,
  name: p.name,
  description: p.description,
  price: p.price,
  quantity: p.quantity,
  created_at: p.createdAt.toISOString(),
  updated_at: p.updatedAt.toISOString(),
})

const security = [{ bearerAuth: [] }]
const tags = ['products']

/**
 * The example protected resource (SPEC §4.8). Each route checks its permission before its
 * body is validated and before the handler looks the product up: a caller without the
 * permission learns nothing about which ids exist, nor about the schema.
 */
export function productRoutes(services: Services) {
  return async (app: App) => {
    const { products, permissions } = services
    app.addHook('preValidation', requireBearer(services.sessions))
    const canRead = requirePermission(permissions, services.profiles, 'products:read')
    const canWrite = requirePermission(permissions, services.profiles, 'products:write')

    app.get(
      '/api/products',
      {
        preValidation: canRead,
        schema: {
          tags,
          security,
          querystring: Type.Object(PageQuery),
          response: { 200: pageSchema(ProductRef), ...problems(400, 401, 403) },
        },
      },
      async (request) => {
        const page = await products.list({
          limit: request.query.limit ?? DEFAULT_LIMIT,
          cursor: request.query.cursor,
        })
        return { items: page.items.map(productJson), next_cursor: page.nextCursor }
      },
    )

    app.get(
      '/api/products/:id',
      {
        preValidation: canRead,
        schema: {
          tags,
          security,
          params: IdParams,
          response: { 200: ProductRef, ...problems(400, 401, 403, 404) },
        },
      },
      async (request) => productJson(await products.get(request.params.id)),
    )

    app.post(
      '/api/products',
      {
        preValidation: canWrite,
        schema: {
          tags,
          security,
          body: ProductBody,
          response: { 201: ProductRef, ...problems(400, 401, 403, 413, 415) },
        },
      },
      async (request, reply) =>
        reply.code(201).send(productJson(await products.create(request.body))),
    )

    app.put(
      '/api/products/:id',
      {
        preValidation: canWrite,
        schema: {
          tags,
          security,
          params: IdParams,
          body: ProductBody,
          response: { 200: ProductRef, ...problems(400, 401, 403, 404, 413, 415) },
        },
      },
      async (request) => productJson(await products.replace(request.params.id, request.body)),
    )

    app.delete(
      '/api/products/:id',
      {
        preValidation: canWrite,
        schema: {
          tags,
          security,
          params: IdParams,
          response: { 204: Type.Null(), ...problems(400, 401, 403, 404) },
        },
      },
      async (request, reply) => {
        await products.remove(request.params.id)
        return reply.code(204).send(null)
      },
    )
  }
}
