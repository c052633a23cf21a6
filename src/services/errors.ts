/** The stable error codes of SPEC §3, each with its HTTP status and title. */
export const errorTable = {
  validation_error: { status: 400, title: 'Invalid request' },
  malformed_request: { status: 400, title: 'Malformed request' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  payload_too_large: { status: 413, title: 'Payload too large' },
  unauthorized: { status: 401, title: 'Authentication required' },
  invalid_token: { status: 401, title: 'Invalid token' },
  token_expired: { status: 401, title: 'Token expired' },
  invalid_api_key: { status: 401, title: 'Invalid API key' },
  invalid_credentials: { status: 401, title: 'Invalid credentials' },
  invalid_code: { status: 401, title: 'Invalid code' },
  account_disabled: { status: 403, title: 'Account disabled' },
  account_locked: { status: 403, title: 'Account locked' },
  forbidden: { status: 403, title: 'Forbidden' },
  mfa_required: { status: 403, title: 'Multi-factor authentication required' },
  password_reset_required: { status: 403, title: 'Password reset required' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  conflict: { status: 409, title: 'Conflict' },
  rate_limited: { status: 429, title: 'Too many requests' },
  delivery_failed: { status: 503, title: 'Delivery failed' },
  unavailable: { status: 503, title: 'Service unavailable' },
} as const

export type ErrorCode = keyof typeof errorTable

export class GatehouseError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly retryAfterSec: number | undefined

  constructor(code: ErrorCode, opts: { detail?: string; retryAfterSec?: number } = {}) {
    super(opts.detail ?? errorTable[code].title)
    this.name = 'GatehouseError'
    this.code = code
    this.status = errorTable[code].status
    this.retryAfterSec = opts.retryAfterSec
  }
}
