import { Type } from 'typebox'
import type { Services } from '../../container.js'
import { GatehouseError } from '../../services/errors.js'
import { JWKS_CACHE_CONTROL } from '../../services/tokens/key-ring.js'
import { problems } from '../schemas/common.js'
import type { App } from './types.js'

/** The members of the provider's discovery document this route relies on (it keeps them all). */
interface ProviderMetadata {
  jwks_uri: string
  token_endpoint: string
  grant_types_supported: string[]
  [member: string]: unknown
}

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
        reply.header('cache-control', JWKS_CACHE_CONTROL)
        return keyRing.jwks()
      },
    )

    // SPEC §4.10: only what is served. The OpenID provider (§4.12) is the authorization
    // server, so this document is its discovery document (the same endpoints, grants and
    // methods) plus Gatehouse's own introspection endpoint, which takes an X-API-Key.
    // Fetched once through the provider itself rather than restated, so the two never drift.
    let providerMetadata: Promise<ProviderMetadata> | undefined
    const openidConfiguration = () =>
      (providerMetadata ??= app
        .inject({ method: 'GET', url: '/.well-known/openid-configuration' })
        .then((res) => {
          if (res.statusCode !== 200) throw new GatehouseError('unavailable')
          return res.json<ProviderMetadata>()
        })
        .catch((err: unknown) => {
          providerMetadata = undefined // a provider that failed to start may work next time
          throw err
        }))

    app.get(
      '/.well-known/oauth-authorization-server',
      {
        schema: {
          tags: ['discovery'],
          response: {
            200: Type.Object(
              {
                issuer: Type.String(),
                jwks_uri: Type.String(),
                token_endpoint: Type.String(),
                introspection_endpoint: Type.String(),
                grant_types_supported: Type.Array(Type.String()),
                introspection_endpoint_auth_methods_supported: Type.Array(Type.String()),
              },
              { additionalProperties: true },
            ),
            ...problems(503),
          },
        },
      },
      async () => ({
        ...(await openidConfiguration()),
        issuer,
        introspection_endpoint: `${issuer}/api/oauth/introspect`,
        introspection_endpoint_auth_methods_supported: ['X-API-Key'],
      }),
    )
  }
}
