import { Type } from 'typebox'
import type { Services } from '../../../container.js'
import type { OidcClient, OidcClientChanges } from '../../../services/oidc/clients.js'
import { problems } from '../../schemas/common.js'
import { DEFAULT_LIMIT, IdParams, PageQuery, pageSchema } from '../../schemas/lists.js'
import { Alg, ClientType, OidcClientFields, OidcClientRef } from '../../schemas/oidc-clients.js'
import type { App } from '../types.js'
import { actorOf, adminProblems, adminSecurity } from './common.js'

const Label = Type.String({ minLength: 1, maxLength: 128, pattern: '^[^\\u0000-\\u001f\\u007f]+$' })
const Url = Type.String({ minLength: 1, maxLength: 2000 })
const Urls = Type.Array(Url, { maxItems: 20 })
const Scopes = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 50 })

const clientJson = (c: OidcClient) => ({
  client_id: c.clientId,
  name: c.name,
  type: c.type,
  redirect_uris: c.redirectUris,
  post_logout_redirect_uris: c.postLogoutRedirectUris,
  require_mfa: c.requireMfa,
  scopes: c.scopes,
  resources: c.resources,
  id_token_signed_response_alg: c.idTokenSignedResponseAlg,
  created_at: c.createdAt.toISOString(),
  updated_at: c.updatedAt.toISOString(),
})

/** The optional settings of a client, from a create or a change request's body. */
const settingsOf = (b: {
  post_logout_redirect_uris?: string[]
  require_mfa?: boolean
  scopes?: string[]
  resources?: string[]
  id_token_signed_response_alg?: OidcClient['idTokenSignedResponseAlg']
}): OidcClientChanges => ({
  postLogoutRedirectUris: b.post_logout_redirect_uris,
  requireMfa: b.require_mfa,
  scopes: b.scopes,
  resources: b.resources,
  idTokenSignedResponseAlg: b.id_token_signed_response_alg,
})

/** SPEC §4.12: the applications that may sign people in through Gatehouse. */
export function adminOidcClientRoutes(services: Services) {
  return async (app: App) => {
    const { oidcClients } = services
    const tags = ['admin']

    app.post(
      '/api/admin/oidc-clients',
      {
        schema: {
          tags,
          security: adminSecurity,
          body: Type.Object({
            name: Label,
            redirect_uris: Type.Array(Url, { minItems: 1, maxItems: 20 }),
            post_logout_redirect_uris: Type.Optional(Urls),
            type: ClientType,
            require_mfa: Type.Optional(Type.Boolean()),
            scopes: Type.Optional(Scopes),
            resources: Type.Optional(Urls),
            id_token_signed_response_alg: Type.Optional(Alg),
          }),
          response: {
            // `client_secret` appears in this answer only; the server keeps its SHA-256.
            201: Type.Object({ ...OidcClientFields, client_secret: Type.Optional(Type.String()) }),
            ...problems(...adminProblems, 413, 415),
          },
        },
      },
      async (request, reply) => {
        const b = request.body
        const { client, clientSecret } = await oidcClients.create(
          { ...settingsOf(b), name: b.name, type: b.type, redirectUris: b.redirect_uris },
          actorOf(request),
        )
        reply.header('cache-control', 'no-store')
        return reply.code(201).send({
          ...clientJson(client),
          ...(clientSecret === undefined ? {} : { client_secret: clientSecret }),
        })
      },
    )

    app.get(
      '/api/admin/oidc-clients',
      {
        schema: {
          tags,
          security: adminSecurity,
          querystring: Type.Object(PageQuery),
          response: { 200: pageSchema(OidcClientRef), ...problems(...adminProblems) },
        },
      },
      async (request) => {
        const page = await oidcClients.list({
          limit: request.query.limit ?? DEFAULT_LIMIT,
          cursor: request.query.cursor,
        })
        return { items: page.items.map(clientJson), next_cursor: page.nextCursor }
      },
    )

    app.get(
      '/api/admin/oidc-clients/:id',
      {
        schema: {
          tags,
          security: adminSecurity,
          params: IdParams,
          response: { 200: OidcClientRef, ...problems(...adminProblems, 404) },
        },
      },
      async (request) => clientJson(await oidcClients.get(request.params.id)),
    )

    app.patch(
      '/api/admin/oidc-clients/:id',
      {
        schema: {
          tags,
          security: adminSecurity,
          params: IdParams,
          body: Type.Object({
            name: Type.Optional(Label),
            type: Type.Optional(ClientType),
            redirect_uris: Type.Optional(Type.Array(Url, { minItems: 1, maxItems: 20 })),
            post_logout_redirect_uris: Type.Optional(Urls),
            require_mfa: Type.Optional(Type.Boolean()),
            scopes: Type.Optional(Scopes),
            resources: Type.Optional(Urls),
            id_token_signed_response_alg: Type.Optional(Alg),
          }),
          response: { 200: OidcClientRef, ...problems(...adminProblems, 404, 413, 415) },
        },
      },
      async (request) => {
        const b = request.body
        const client = await oidcClients.update(
          request.params.id,
          { ...settingsOf(b), name: b.name, type: b.type, redirectUris: b.redirect_uris },
          actorOf(request),
        )
        return clientJson(client)
      },
    )

    app.delete(
      '/api/admin/oidc-clients/:id',
      {
        schema: {
          tags,
          security: adminSecurity,
          params: IdParams,
          response: { 204: Type.Null(), ...problems(...adminProblems, 404) },
        },
      },
      async (request, reply) => {
        await oidcClients.remove(request.params.id, actorOf(request))
        return reply.code(204).send(null)
      },
    )
  }
}
