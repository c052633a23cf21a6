import { Type } from 'typebox'
import type { Services } from '../../container.js'
import { GatehouseError } from '../../services/errors.js'
import { principalOf, requireBearer } from '../auth.js'
import { contextOf } from '../context.js'
import { rolesStillHeld } from '../guards.js'
import { IdParam, Password, problems, UserRef, userJson } from '../schemas/common.js'
import type { App } from './types.js'

const bearer = [{ bearerAuth: [] }]

/** The permissions the API checks (SPEC §4.6, §4.8). */
const KNOWN_PERMISSIONS = ['products:read', 'products:write']

/** The signed-in user's own endpoints (SPEC §4.2), all behind the Bearer check. */
export function meRoutes(services: Services) {
  return async (app: App) => {
    const { accounts, profiles, sessions, permissions } = services
    app.addHook('preValidation', requireBearer(sessions))

    app.get(
      '/api/auth/me',
      {
        schema: { tags: ['me'], security: bearer, response: { 200: UserRef, ...problems(401) } },
      },
      async (request) => {
        const profile = await profiles.get(principalOf(request).sub)
        if (!profile)
          throw new GatehouseError('invalid_token', { detail: 'the account no longer exists' })
        return userJson(profile)
      },
    )

    // Not in SPEC §4.2: lets a client (the web UI) show only the controls the caller may use.
    // The server still checks every request; this is a hint, not the gate.
    app.get(
      '/api/auth/me/permissions',
      {
        schema: {
          tags: ['me'],
          security: bearer,
          response: {
            200: Type.Object({ permissions: Type.Array(Type.String()) }),
            ...problems(401),
          },
        },
      },
      async (request) => {
        // As requirePermission counts them, or the UI offers what the server then refuses.
        const roles = await rolesStillHeld(principalOf(request), profiles)
        const granted = await Promise.all(
          KNOWN_PERMISSIONS.map(async (p) =>
            (await permissions.grant(roles, p)).allowed ? p : '',
          ),
        )
        return { permissions: granted.filter((p) => p !== '') }
      },
    )

    app.post(
      '/api/auth/password/change',
      {
        schema: {
          tags: ['me'],
          security: bearer,
          body: Type.Object({ current_password: Password, new_password: Password }),
          response: { 204: Type.Null(), ...problems(400, 401, 413, 415, 429) },
        },
      },
      async (request, reply) => {
        const me = principalOf(request)
        const context = contextOf(request)
        await accounts.changePassword(
          { userId: me.sub, username: me.username },
          request.body.current_password,
          request.body.new_password,
          context,
          (trx) =>
            sessions.endAllWithin(trx, me.sub, 'password_changed', {
              exceptSessionId: me.sid,
              context,
            }),
        )
        return reply.code(204).send(null)
      },
    )

    app.get(
      '/api/auth/sessions',
      {
        schema: {
          tags: ['me'],
          security: bearer,
          response: {
            200: Type.Object({
              sessions: Type.Array(
                Type.Object({
                  id: Type.String(),
                  created_at: Type.String({ format: 'date-time' }),
                  last_used_at: Type.String({ format: 'date-time' }),
                  ip: Type.Union([Type.String(), Type.Null()]),
                  user_agent: Type.Union([Type.String(), Type.Null()]),
                  current: Type.Boolean(),
                }),
              ),
            }),
            ...problems(401),
          },
        },
      },
      async (request) => {
        const me = principalOf(request)
        const list = await sessions.list(me.sub)
        return {
          sessions: list.map((s) => ({
            id: s.id,
            created_at: s.createdAt.toISOString(),
            last_used_at: s.lastUsedAt.toISOString(),
            ip: s.ip,
            user_agent: s.userAgent,
            current: s.id === me.sid,
          })),
        }
      },
    )

    app.delete(
      '/api/auth/sessions/:id',
      {
        schema: {
          tags: ['me'],
          security: bearer,
          params: Type.Object({ id: IdParam }),
          response: { 204: Type.Null(), ...problems(400, 401, 404) },
        },
      },
      async (request, reply) => {
        await sessions.endOne(
          principalOf(request).sub,
          request.params.id,
          'revoked',
          contextOf(request),
        )
        return reply.code(204).send(null)
      },
    )

    app.post(
      '/api/auth/logout-all',
      {
        schema: {
          tags: ['me'],
          security: bearer,
          response: { 204: Type.Null(), ...problems(401) },
        },
      },
      async (request, reply) => {
        await sessions.endAll(principalOf(request).sub, 'logout_all', {
          context: contextOf(request),
        })
        return reply.code(204).send(null)
      },
    )
  }
}
