import { Type } from 'typebox'
import { noStore } from '../../no-store.js'
import type { Services } from '../../../container.js'
import type { ApiKey } from '../../../services/apikeys/api-keys.js'
import { principalOf } from '../../auth.js'
import { problems } from '../../schemas/common.js'
import { DEFAULT_LIMIT, IdParams, PageQuery, pageSchema } from '../../schemas/lists.js'
import type { App } from '../types.js'
import { actorOf, adminProblems, adminSecurity } from './common.js'

const Scope = Type.Union([Type.Literal('totp'), Type.Literal('introspect')])
const ApiKeyFields = {
  id: Type.String(),
  name: Type.String(),
  owner: Type.String(),
  scopes: Type.Array(Scope),
  created_at: Type.String({ format: 'date-time' }),
}
const ApiKeySchema = Type.Object({
  ...ApiKeyFields,
  last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
})

const apiKeyJson = (k: ApiKey) => ({
  id: k.id,
  name: k.name,
  owner: k.owner,
  scopes: k.scopes,
  created_at: k.createdAt.toISOString(),
  last_used_at: k.lastUsedAt?.toISOString() ?? null,
})

// Names and owners are shown to people and written to the audit log: printable text only.
const Label = Type.String({ minLength: 1, maxLength: 128, pattern: '^[^\\u0000-\\u001f\\u007f]+$' })

export function adminApiKeyRoutes(services: Services) {
  return async (app: App) => {
    const { apiKeys } = services
    const tags = ['admin']

    app.get(
      '/api/admin/api-keys',
      {
        schema: {
          tags,
          security: adminSecurity,
          querystring: Type.Object(PageQuery),
          response: { 200: pageSchema(ApiKeySchema), ...problems(...adminProblems) },
        },
      },
      async (request) => {
        const page = await apiKeys.list({
          limit: request.query.limit ?? DEFAULT_LIMIT,
          cursor: request.query.cursor,
        })
        return { items: page.items.map(apiKeyJson), next_cursor: page.nextCursor }
      },
    )

    app.post(
      '/api/admin/api-keys',
      {
        onRequest: noStore,
        schema: {
          tags,
          security: adminSecurity,
          body: Type.Object({
            name: Label,
            scopes: Type.Array(Scope, { minItems: 1, maxItems: 2, uniqueItems: true }),
            owner: Type.Optional(Label),
          }),
          response: {
            // `key` appears in this answer only; the server keeps its SHA-256.
            201: Type.Object({ ...ApiKeyFields, key: Type.String() }),
            ...problems(...adminProblems, 413, 415),
          },
        },
      },
      async (request, reply) => {
        const me = principalOf(request)
        const { apiKey, key } = await apiKeys.create(
          {
            name: request.body.name,
            scopes: request.body.scopes,
            owner: request.body.owner ?? me.username,
          },
          actorOf(request),
        )
        const { last_used_at: _unused, ...created } = apiKeyJson(apiKey)
        return reply.code(201).send({ ...created, key })
      },
    )

    app.delete(
      '/api/admin/api-keys/:id',
      {
        schema: {
          tags,
          security: adminSecurity,
          params: IdParams,
          response: { 204: Type.Null(), ...problems(...adminProblems, 404) },
        },
      },
      async (request, reply) => {
        await apiKeys.revoke(request.params.id, actorOf(request))
        return reply.code(204).send(null)
      },
    )
  }
}
