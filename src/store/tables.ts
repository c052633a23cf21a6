import type { Generated } from 'kysely'

/**
 * Table shapes shared by all three dialects. Times are epoch milliseconds (bigint columns),
 * flags are nullable timestamps (when it happened, or null), lists are JSON text: the one
 * representation every dialect stores alike. Repositories convert to domain values.
 */
export interface UsersTable {
  id: string
  username: string
  username_normalized: string
  email: string | null
  email_normalized: string | null
  email_verified_at: number | null
  phone: string | null
  phone_verified_at: number | null
  password_hash: string | null
  locked_at: number | null
  disabled_at: number | null
  created_at: number
  updated_at: number
  /** The last password reset that answered a "this wasn't me" report (0018). */
  compromise_resolved_at: number | null
}

export interface RolesTable {
  name: string
  permissions: string // JSON array of strings
  created_at: number
}

export interface UserRolesTable {
  user_id: string
  role_name: string
}

export interface SessionsTable {
  id: string
  user_id: string
  amr: string // JSON array, kept across refreshes
  created_at: number
  last_used_at: number
  ended_at: number | null
  end_reason: string | null
  ip: string | null
  user_agent: string | null
}

export interface RefreshTokensTable {
  id: string
  session_id: string
  token_hash: string
  created_at: number
  expires_at: number
  used_at: number | null
  successor_id: string | null
  /** The successor token, sealed, kept only for REFRESH_REUSE_GRACE after rotation. */
  successor_sealed: string | null
}

export interface SigningKeysTable {
  kid: string
  alg: string
  public_jwk: string
  private_key_sealed: string
  created_at: number
}

export interface AuditEventsTable {
  id: Generated<number>
  time: number
  event: string
  outcome: string
  user_id: string | null
  username: string | null
  ip: string | null
  user_agent: string | null
  actor_id: string | null
  details: string | null // JSON object
  /** SHA-256 chain link (hex); null until the sealer reaches the row (SPEC §4.14). */
  hash: string | null
}

/** The single row (id 1) that locks and remembers the head of the audit chain. */
export interface AuditChainTable {
  id: number
  last_id: number
  last_hash: string
  sealed_at: number
}

export interface ApiKeysTable {
  id: string
  name: string
  owner: string
  scopes: string // JSON array of scope names
  key_hash: string // SHA-256 of the key; the key itself is shown once and never stored
  created_by: string | null
  created_at: number
  last_used_at: number | null
  revoked_at: number | null
}

export interface TotpSubjectsTable {
  id: string
  owner: string
  username: string
  secret_sealed: string
  /** The time step of the last accepted code: a code of this step or earlier is a replay. */
  last_step: number | null
  verified_at: number | null
  created_at: number
}

export interface ProductsTable {
  id: string
  name: string
  description: string
  price_cents: number
  quantity: number
  created_at: number
  updated_at: number
}

export interface LoginLockoutsTable {
  user_id: string
  failures: number
  locked_until: number | null
  generation: number
  updated_at: number
}

export interface TotpSecretsTable {
  user_id: string
  secret_sealed: string
  enabled_at: number | null
  /** The time step of the last accepted code (RFC 6238 replay protection). */
  last_step: number | null
  created_at: number
}

export interface BackupCodesTable {
  id: string
  user_id: string
  code_hash: string // keyed hash (HMAC), never the code
  used_at: number | null
  created_at: number
}

export interface MfaChannelsTable {
  user_id: string
  channel: 'email' | 'sms'
  created_at: number
}

export interface OneTimeCodesTable {
  id: string
  user_id: string
  purpose: 'verify_contact' | 'login' | 'password_reset'
  channel: 'email' | 'sms'
  destination: string
  code_hash: string // keyed hash (HMAC), never the code
  attempts: number
  created_at: number
  expires_at: number
  used_at: number | null
}

export interface CodeSendsTable {
  user_id: string
  purpose: string
  channel: string
  sent_at: string // JSON array of epoch ms within the last hour
  version: number
}

export interface MfaTokensTable {
  token_hash: string
  user_id: string
  /** The normalized identifier entered at the password step, for the login guard. */
  login_name: string
  attempts: number
  created_at: number
  expires_at: number
  spent_at: number | null
  /** While a request checks a code against the token, until when it holds it (ms). */
  checking_until: number | null
}

/** Keys Gatehouse made for itself, sealed under GATEHOUSE_SECRET_KEY. */
export interface AppSecretsTable {
  name: string
  sealed: string
  created_at: number
}

export interface NotificationOutboxTable {
  id: string
  user_id: string
  kind: string
  occurred_at: number
  ip: string | null
  user_agent: string | null
  details: string | null // JSON object
  attempts: number
  next_attempt_at: number
  /** A worker holds the row until then; past it, another may take it over. */
  claimed_until: number | null
  sent_at: number | null
  gave_up_at: number | null
  last_error: string | null
}

export interface KnownDevicesTable {
  user_id: string
  device_hash: string
  last_seen_at: number
}

export interface NotMeTokensTable {
  token_hash: string
  user_id: string
  created_at: number
  expires_at: number
  used_at: number | null
  /** When the notified event happened; null on links sent before 0017. */
  event_at: number | null
  /** The passkey the notice reports as added, if it does. */
  passkey_id: string | null
}

export interface WebauthnCredentialsTable {
  id: string
  user_id: string
  /** The authenticator's credential id, base64url. */
  credential_id: string
  /** SHA-256 (hex) of credential_id: the indexed, exact lookup key. */
  credential_id_hash: string
  /** The COSE public key, base64url. */
  public_key: string
  /** The last signature counter seen (0 for authenticators that do not count). */
  counter: number
  transports: string // JSON array
  name: string
  created_at: number
  last_used_at: number | null
}

export interface WebauthnChallengesTable {
  id: string
  purpose: 'register' | 'mfa' | 'passkey'
  user_id: string | null
  challenge: string // base64url, as sent in the options
  created_at: number
  expires_at: number
  used_at: number | null
}

export interface CompromisedAccountsTable {
  user_id: string
  reported_at: number
}

export interface OidcClientsTable {
  id: string
  name: string
  type: string
  secret_hash: string | null
  metadata: string
  created_by: string | null
  created_at: number
  updated_at: number
}

export interface OidcPayloadsTable {
  model: string
  id: string
  payload: string
  grant_id: string | null
  uid: string | null
  user_code: string | null
  session_uid: string | null
  account_id: string | null
  client_id: string | null
  expires_at: number | null
  consumed_at: number | null
}

export interface OidcConsentsTable {
  account_id: string
  client_id: string
  scopes: string
  resources: string
  created_at: number
  updated_at: number
}

export interface OidcSessionLinksTable {
  session_uid: string
  gatehouse_session_id: string
  created_at: number
}

export interface Database {
  users: UsersTable
  roles: RolesTable
  user_roles: UserRolesTable
  sessions: SessionsTable
  refresh_tokens: RefreshTokensTable
  signing_keys: SigningKeysTable
  audit_events: AuditEventsTable
  audit_chain: AuditChainTable
  api_keys: ApiKeysTable
  totp_subjects: TotpSubjectsTable
  products: ProductsTable
  login_lockouts: LoginLockoutsTable
  totp_secrets: TotpSecretsTable
  backup_codes: BackupCodesTable
  mfa_channels: MfaChannelsTable
  one_time_codes: OneTimeCodesTable
  code_sends: CodeSendsTable
  mfa_tokens: MfaTokensTable
  app_secrets: AppSecretsTable
  notification_outbox: NotificationOutboxTable
  known_devices: KnownDevicesTable
  not_me_tokens: NotMeTokensTable
  compromised_accounts: CompromisedAccountsTable
  oidc_clients: OidcClientsTable
  oidc_payloads: OidcPayloadsTable
  oidc_session_links: OidcSessionLinksTable
  oidc_consents: OidcConsentsTable
  webauthn_credentials: WebauthnCredentialsTable
  webauthn_challenges: WebauthnChallengesTable
}
