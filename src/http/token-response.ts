import type { FastifyReply } from 'fastify'
import type { ProfileReader } from '../services/accounts/user-profile.js'
import { GatehouseError } from '../services/errors.js'
import type { IssuedTokens } from '../services/sessions/session-service.js'
import { tokenJson } from './schemas/common.js'

/**
 * The token response (SPEC §3) of a route that ends a login. One function for all of them,
 * so what a token response must carry is decided once: RFC 6749 §5.1 `no-store`, and the
 * place where SPEC §7's cookie mode (`X-Gatehouse-Client: web`) belongs.
 */
export function tokenReplies(profiles: ProfileReader) {
  return async function replyWithTokens(reply: FastifyReply, tokens: IssuedTokens) {
    const profile = await profiles.get(tokens.userId)
    if (!profile)
      throw new GatehouseError('invalid_token', { detail: 'the account no longer exists' })
    reply.header('cache-control', 'no-store')
    return tokenJson(tokens, profile)
  }
}
