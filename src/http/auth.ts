import type { FastifyReply, FastifyRequest } from 'fastify'
import { GatehouseError } from '../services/errors.js'
import type { AccessClaims } from '../services/tokens/access-tokens.js'

declare module 'fastify' {
  interface FastifyRequest {
    principal?: AccessClaims
  }
}

export interface BearerVerifier {
  authenticate(accessToken: string): Promise<AccessClaims>
}

/** RFC 6750 §2.1: `Authorization: Bearer <token>`, the scheme matched case-insensitively. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (typeof header !== 'string') return undefined
  const match = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(header)
  if (!match) {
    if (/^Bearer(\s|$)/i.test(header))
      throw new GatehouseError('invalid_token', { detail: 'malformed bearer token' })
    return undefined
  }
  return match[1]
}

/**
 * The preValidation hook of every Bearer-protected route: sets `request.principal` or answers
 * 401. It runs before the body and query are checked against the route's schema, so a caller
 * without credentials gets 401 whatever it sent, and learns nothing of the schema.
 */
export function requireBearer(verifier: BearerVerifier) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const token = bearerToken(request)
    if (!token)
      throw new GatehouseError('unauthorized', {
        detail: 'send Authorization: Bearer <access_token>',
      })
    request.principal = await verifier.authenticate(token)
  }
}

export function principalOf(request: FastifyRequest): AccessClaims {
  if (!request.principal) throw new GatehouseError('unauthorized')
  return request.principal
}
