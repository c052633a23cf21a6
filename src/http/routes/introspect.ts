import formBody from '@fastify/formbody'
import { Type } from 'typebox'
import type { Services } from '../../container.js'
import type { AccessClaims } from '../../services/tokens/access-tokens.js'
import { GatehouseError } from '../../services/errors.js'
import { requireApiKey } from '../guards.js'
import { problems } from '../schemas/common.js'
import type { App } from './types.js'
import { BODY_LIMIT_BYTES } from '../body-limit.js'

const Introspection = Type.Object({
  active: Type.Boolean(),
  sub: Type.Optional(Type.String()),
  username: Type.Optional(Type.String()),
  roles: Type.Optional(Type.Array(Type.String())),
  amr: Type.Optional(Type.Array(Type.String())),
  sid: Type.Optional(Type.String()),
  iat: Type.Optional(Type.Integer()),
  exp: Type.Optional(Type.Integer()),
  iss: Type.Optional(Type.String()),
  aud: Type.Optional(Type.String()),
  token_type: Type.Optional(Type.Literal('access_token')),
})

/**
 * RFC 7662 token introspection for backends that want instant revocation: the answer says
 * whether Gatehouse itself would accept the token now, session liveness included.
 */
export function introspectionRoutes(services: Services) {
  return async (app: App) => {
    // RFC 7662 §2.1 clients post forms; JSON is accepted too.
    await app.register(formBody, { bodyLimit: BODY_LIMIT_BYTES })
    app.addHook('preValidation', requireApiKey(services.apiKeys, 'introspect'))

    app.post(
      '/api/oauth/introspect',
      {
        schema: {
          tags: ['discovery'],
          security: [{ apiKey: [] }],
          body: Type.Object({
            token: Type.String({ maxLength: 8192 }),
            token_type_hint: Type.Optional(Type.String({ maxLength: 64 })),
          }),
          response: { 200: Introspection, ...problems(400, 401, 403, 413, 415) },
        },
      },
      async (request, reply) => {
        // RFC 7662 §4: the answer describes a token; no cache may keep it.
        reply.header('cache-control', 'no-store')
        let claims: AccessClaims
        try {
          claims = await services.sessions.authenticate(request.body.token)
        } catch (err) {
          // Expired, forged, revoked or unknown all look alike: RFC 7662 §2.2 says nothing more.
          if (err instanceof GatehouseError) return { active: false }
          throw err
        }
        return {
          active: true,
          sub: claims.sub,
          username: claims.username,
          roles: claims.roles,
          amr: claims.amr,
          sid: claims.sid,
          iat: claims.iat,
          exp: claims.exp,
          iss: claims.iss,
          aud: claims.aud,
          token_type: 'access_token' as const,
        }
      },
    )
  }
}
