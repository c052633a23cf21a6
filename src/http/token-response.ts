import type { ProfileReader } from '../services/accounts/user-profile.js'
import { GatehouseError } from '../services/errors.js'
import type { IssuedTokens } from '../services/sessions/session-service.js'
import { tokenJson } from './schemas/common.js'

/**
 * The token response body (SPEC §3) of a route that ends a login or a refresh, built in one
 * place. Its `Cache-Control: no-store` is not set here: every such route declares the
 * `noStore` hook (no-store.ts), which also covers the error replies.
 */
export function tokenResponses(profiles: ProfileReader) {
  return async function tokenResponse(tokens: IssuedTokens) {
    const profile = await profiles.get(tokens.userId)
    if (!profile)
      throw new GatehouseError('invalid_token', { detail: 'the account no longer exists' })
    return tokenJson(tokens, profile)
  }
}
