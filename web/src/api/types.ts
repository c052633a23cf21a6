/** The API's shapes (SPEC §3, §4), as the screens use them. */
export interface User {
  id: string
  username: string
  email: string | null
  email_verified: boolean
  phone: string | null
  phone_verified: boolean
  roles: string[]
  locked: boolean
  disabled: boolean
  mfa: {
    totp: boolean
    webauthn: number
    email: boolean
    sms: boolean
    backup_codes_remaining: number
  }
  created_at: string
}

export interface TokenResponse {
  access_token: string
  token_type: 'Bearer'
  expires_in: number
  user: User
}

export interface MfaChallenge {
  mfa_required: true
  mfa_token: string
  mfa_methods: string[]
  expires_in: number
}

export interface Page<T> {
  items: T[]
  next_cursor: string | null
}

export interface Session {
  id: string
  created_at: string
  last_used_at: string
  ip: string | null
  user_agent: string | null
  current: boolean
}

export interface Product {
  id: string
  name: string
  description: string
  price: number
  quantity: number
  created_at: string
  updated_at: string
}

export interface Role {
  name: string
  permissions: string[]
}

export interface AuditEvent {
  id: string
  time: string
  event: string
  outcome: 'success' | 'failure'
  user_id: string | null
  username: string | null
  ip: string | null
  user_agent: string | null
  actor_id: string | null
  details: Record<string, unknown> | null
}

export interface ApiKey {
  id: string
  name: string
  owner: string
  scopes: string[]
  created_at: string
  last_used_at: string | null
}

export interface Passkey {
  id: string
  name: string
  created_at: string
  last_used_at: string | null
}
