import { Type } from 'typebox'
import type { Services } from '../../../container.js'
import { problems, UserRef, userJson } from '../../schemas/common.js'
import { DEFAULT_LIMIT, IdParams, PageQuery, pageSchema } from '../../schemas/lists.js'
import type { App } from '../types.js'
import { actorOf, adminProblems, adminSecurity } from './common.js'

export function adminUserRoutes(services: Services) {
  return async (app: App) => {
    const { userDirectory, userAdmin } = services
    const tags = ['admin']

    app.get(
      '/api/admin/users',
      {
        schema: {
          tags,
          security: adminSecurity,
          querystring: Type.Object({
            q: Type.Optional(Type.String({ maxLength: 255 })),
            ...PageQuery,
          }),
          response: { 200: pageSchema(UserRef), ...problems(...adminProblems) },
        },
      },
      async (request) => {
        const { q, limit, cursor } = request.query
        const page = await userDirectory.list({
          limit: limit ?? DEFAULT_LIMIT,
          cursor,
          q: q === '' ? undefined : q,
        })
        return { items: page.items.map(userJson), next_cursor: page.nextCursor }
      },
    )

    app.get(
      '/api/admin/users/:id',
      {
        schema: {
          tags,
          security: adminSecurity,
          params: IdParams,
          response: { 200: UserRef, ...problems(...adminProblems, 404) },
        },
      },
      async (request) => userJson(await userAdmin.get(request.params.id)),
    )

    app.patch(
      '/api/admin/users/:id',
      {
        schema: {
          tags,
          security: adminSecurity,
          params: IdParams,
          body: Type.Object({
            roles: Type.Optional(
              Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 32 }),
            ),
            locked: Type.Optional(Type.Boolean()),
            disabled: Type.Optional(Type.Boolean()),
          }),
          response: { 200: UserRef, ...problems(...adminProblems, 404, 409, 413, 415) },
        },
      },
      async (request) => {
        const { roles, locked, disabled } = request.body
        const profile = await userAdmin.update(
          request.params.id,
          { roles, locked, disabled },
          actorOf(request),
        )
        return userJson(profile)
      },
    )

    app.delete(
      '/api/admin/users/:id',
      {
        schema: {
          tags,
          security: adminSecurity,
          params: IdParams,
          response: { 204: Type.Null(), ...problems(...adminProblems, 404, 409) },
        },
      },
      async (request, reply) => {
        await userAdmin.remove(request.params.id, actorOf(request))
        return reply.code(204).send(null)
      },
    )

    app.post(
      '/api/admin/users/:id/reset-mfa',
      {
        schema: {
          tags,
          security: adminSecurity,
          params: IdParams,
          response: { 204: Type.Null(), ...problems(...adminProblems, 404) },
        },
      },
      async (request, reply) => {
        await userAdmin.resetMfa(request.params.id, actorOf(request))
        return reply.code(204).send(null)
      },
    )
  }
}
