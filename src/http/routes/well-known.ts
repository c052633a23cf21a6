import { Type } from 'typebox'
import type { Services } from '../../container.js'
import type { App } from './types.js'

/** Discovery documents: JWKS (RFC 7517) and authorization-server metadata (RFC 8414). */
export function wellKnownRoutes(services: Services) {
  return async (app: App) => {
    const { keyRing, config } = services
    const issuer = config.tokens.issuer

    app.get(
      '/.well-known/jwks.json',
      {
        schema: {
          tags: ['discovery'],
          response: {
            200: Type.Object({ keys: Type.Array(Type.Object({}, { additionalProperties: true })) }),
          },
        },
      },
      async (_request, reply) => {
        // Short enough that a rotation reaches backends quickly, long enough to absorb bursts.
        reply.header('cache-control', 'public, max-age=60')
        return keyRing.jwks()
      },
    )

    app.get(
      '/.well-known/oauth-authorization-server',
      {
        schema: {
          tags: ['discovery'],
          response: {
            200: Type.Object({
              issuer: Type.String(),
              jwks_uri: Type.String(),
              token_endpoint: Type.String(),
              introspection_endpoint: Type.String(),
              grant_types_supported: Type.Array(Type.String()),
              token_endpoint_auth_methods_supported: Type.Array(Type.String()),
              introspection_endpoint_auth_methods_supported: Type.Array(Type.String()),
            }),
          },
        },
      },
      // SPEC §4.10: only what is served. Until the OpenID provider exists, the token endpoint
      // is the refresh endpoint: it takes the refresh_token grant (form or JSON) from a public
      // client; the password grant is not advertised, as login is a separate endpoint.
      async () => ({
        issuer,
        jwks_uri: `${issuer}/.well-known/jwks.json`,
        token_endpoint: `${issuer}/api/auth/refresh`,
        introspection_endpoint: `${issuer}/api/oauth/introspect`,
        grant_types_supported: ['refresh_token'],
        token_endpoint_auth_methods_supported: ['none'],
        introspection_endpoint_auth_methods_supported: ['X-API-Key'],
      }),
    )
  }
}
