import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ProfileReader } from '../services/accounts/user-profile.js'
import type { ApiKey, ApiKeys, ApiKeyScope } from '../services/apikeys/api-keys.js'
import { GatehouseError } from '../services/errors.js'
import type { PermissionResolver } from '../services/roles/permissions.js'
import { principalOf } from './auth.js'

declare module 'fastify' {
  interface FastifyRequest {
    apiKey?: ApiKey
  }
}

/**
 * `X-API-Key` for service-to-service routes: missing is 401 unauthorized, unknown or revoked
 * 401 invalid_api_key, a key without the route's scope 403 forbidden.
 */
export function requireApiKey(apiKeys: ApiKeys, scope: ApiKeyScope) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    // RFC 9110 §11.6.1: a 401 names how to authenticate; this scheme is not Bearer.
    reply.header('www-authenticate', 'ApiKey header="X-API-Key"')
    const header = request.headers['x-api-key']
    if (typeof header !== 'string' || header === '')
      throw new GatehouseError('unauthorized', { detail: 'send X-API-Key: <key>' })
    const apiKey = await apiKeys.authenticate(header.trim())
    reply.removeHeader('www-authenticate')
    if (!apiKey.scopes.includes(scope))
      throw new GatehouseError('forbidden', { detail: `this API key lacks the ${scope} scope` })
    request.apiKey = apiKey
  }
}

export function apiKeyOf(request: FastifyRequest): ApiKey {
  if (!request.apiKey) throw new GatehouseError('unauthorized')
  return request.apiKey
}

const needsMfa = () =>
  new GatehouseError('mfa_required', {
    detail: 'this action needs a token from a login with a second factor',
  })

/** The token's roles that the account still holds: what its permissions come from. */
export async function rolesStillHeld(
  principal: { sub: string; roles: readonly string[] },
  profiles: ProfileReader,
): Promise<string[]> {
  const held = (await profiles.get(principal.sub))?.roles ?? []
  return principal.roles.filter((role) => held.includes(role))
}

/**
 * Runs after requireBearer: the roles the token names that the account still holds must grant
 * `permission` (a role taken away ends its grants at once, as requireAdmin does for admin; a
 * role given comes with the next refresh); a grant that only comes from roles in
 * REQUIRE_MFA_FOR_ROLES also needs `mfa` in the token's `amr`.
 */
export function requirePermission(
  permissions: PermissionResolver,
  profiles: ProfileReader,
  permission: string,
) {
  return async (request: FastifyRequest): Promise<void> => {
    const principal = principalOf(request)
    const grant = await permissions.grant(await rolesStillHeld(principal, profiles), permission)
    if (!grant.allowed)
      throw new GatehouseError('forbidden', { detail: `this action needs ${permission}` })
    if (grant.needsMfa && !principal.amr.includes('mfa')) throw needsMfa()
  }
}

/**
 * Runs after requireBearer on every admin route. The token must say `admin`, and so must the
 * account now: a token outlives a demotion by up to ACCESS_TOKEN_TTL, admin power should not.
 */
export function requireAdmin(profiles: ProfileReader, mfaRoles: readonly string[]) {
  return async (request: FastifyRequest): Promise<void> => {
    const principal = principalOf(request)
    const forbidden = () =>
      new GatehouseError('forbidden', { detail: 'this action needs the admin role' })
    if (!principal.roles.includes('admin')) throw forbidden()
    const current = await profiles.get(principal.sub)
    if (!current || !current.roles.includes('admin') || current.locked || current.disabled)
      throw forbidden()
    if (mfaRoles.includes('admin') && !principal.amr.includes('mfa')) throw needsMfa()
  }
}
