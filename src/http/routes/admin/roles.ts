import { Type } from 'typebox'
import type { Services } from '../../../container.js'
import { PERMISSION, ROLE_NAME } from '../../../services/roles/role-admin.js'
import { problems } from '../../schemas/common.js'
import type { App } from '../types.js'
import { actorOf, adminProblems, adminSecurity } from './common.js'

const Role = Type.Object({ name: Type.String(), permissions: Type.Array(Type.String()) })

export function adminRoleRoutes(services: Services) {
  return async (app: App) => {
    const { roleAdmin } = services
    const tags = ['admin']

    app.get(
      '/api/admin/roles',
      {
        schema: {
          tags,
          security: adminSecurity,
          response: {
            200: Type.Object({ items: Type.Array(Role), next_cursor: Type.Null() }),
            ...problems(...adminProblems),
          },
        },
      },
      // Roles are few: one page, always (SPEC §4.6).
      async () => ({ items: await roleAdmin.list(), next_cursor: null }),
    )

    app.post(
      '/api/admin/roles',
      {
        schema: {
          tags,
          security: adminSecurity,
          body: Type.Object({
            name: Type.String({ pattern: ROLE_NAME }),
            permissions: Type.Array(Type.String({ pattern: PERMISSION }), { maxItems: 64 }),
          }),
          response: { 201: Role, ...problems(...adminProblems, 409, 413, 415) },
        },
      },
      async (request, reply) => {
        const role = await roleAdmin.create(request.body, actorOf(request))
        return reply.code(201).send(role)
      },
    )
  }
}
