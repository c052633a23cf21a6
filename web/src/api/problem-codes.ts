/**
 * The `code`s of SPEC §3 the server answers with. STYLE §11 keeps server code out of the web
 * app, so this is a copy of the server's error table; a unit test keeps the two equal.
 */
export const SERVER_CODES = [
  'validation_error',
  'malformed_request',
  'unsupported_media_type',
  'payload_too_large',
  'unauthorized',
  'invalid_token',
  'token_expired',
  'invalid_api_key',
  'invalid_credentials',
  'invalid_code',
  'account_disabled',
  'account_locked',
  'forbidden',
  'mfa_required',
  'password_reset_required',
  'not_found',
  'method_not_allowed',
  'conflict',
  'rate_limited',
  'delivery_failed',
  'unavailable',
] as const

/**
 * The codes of failures the server did not name: its 500 (`internal_error`), no answer at
 * all (`network`), an answer without a code (`unknown`), and what the browser's passkey
 * prompt said (or a server code read in a passkey's light: `passkey_refused`).
 */
const OTHER_CODES = [
  'internal_error',
  'network',
  'unknown',
  'passkey_cancelled',
  'passkey_exists',
  'passkey_unsupported',
  'passkey_refused',
  'passkey_mfa_required',
  'passkey_failed',
] as const

/** Every code an ApiError can carry: comparing one with a misspelt code fails type-checking. */
export type ProblemCode = (typeof SERVER_CODES)[number] | (typeof OTHER_CODES)[number]

const known = new Set<string>([...SERVER_CODES, ...OTHER_CODES])

/** A code as received, or `unknown` for one this client does not know. */
export function problemCodeOf(code: string | undefined): ProblemCode {
  return code !== undefined && known.has(code) ? (code as ProblemCode) : 'unknown'
}
