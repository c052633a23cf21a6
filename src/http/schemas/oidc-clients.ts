import { Type } from 'typebox'
import { refTo } from './common.js'

export const Alg = Type.Union([Type.Literal('RS256'), Type.Literal('EdDSA')])
export const ClientType = Type.Union([Type.Literal('public'), Type.Literal('confidential')])

export const OidcClientFields = {
  client_id: Type.String(),
  name: Type.String(),
  type: ClientType,
  redirect_uris: Type.Array(Type.String()),
  post_logout_redirect_uris: Type.Array(Type.String()),
  require_mfa: Type.Boolean(),
  scopes: Type.Array(Type.String()),
  resources: Type.Array(Type.String()),
  id_token_signed_response_alg: Alg,
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
}

/** An application that may sign people in through Gatehouse (SPEC §4.12). */
export const OidcClientSchema = Type.Object(OidcClientFields, { $id: 'OidcClient' })
export const OidcClientRef = refTo(OidcClientSchema)
