import type { Db } from '../../store/db.js'
import { insertAuditEvent } from '../../store/repositories/audit.js'
import type { Clock } from '../ports.js'

export type AuditEventName =
  | 'register'
  | 'contact_verified'
  | 'login_succeeded'
  | 'login_failed'
  | 'mfa_succeeded'
  | 'mfa_failed'
  | 'account_locked'
  | 'account_unlocked'
  | 'password_changed'
  | 'password_reset_requested'
  | 'password_reset'
  | 'mfa_enabled'
  | 'mfa_disabled'
  | 'backup_code_used'
  | 'backup_codes_regenerated'
  | 'passkey_registered'
  | 'passkey_removed'
  | 'passkey_counter_regressed'
  | 'session_ended'
  | 'refresh_token_reused'
  | 'role_created'
  | 'user_updated'
  | 'user_deleted'
  | 'mfa_reset'
  | 'api_key_created'
  | 'api_key_revoked'
  | 'totp_service_registered'
  | 'totp_service_verified'
  | 'totp_service_deleted'
  | 'signing_key_rotated'
  | 'compromise_reported'

/** Who made a request: copied into every event that request causes. */
export interface RequestContext {
  ip: string | null
  userAgent: string | null
}

export interface AuditEntry {
  event: AuditEventName
  outcome: 'success' | 'failure'
  userId?: string | null
  /** The username as the client entered it (for failures of unknown users too). */
  username?: string | null
  actorId?: string | null
  /** Never a password, code, token, secret or hash: callers pass reasons and ids only. */
  details?: Record<string, string | number | boolean | null | string[]>
  context?: RequestContext
}

export interface AuditLog {
  record(entry: AuditEntry): Promise<void>
}

// Entered text reaches the log verbatim otherwise: strip control characters (NUL breaks
// PostgreSQL text, newlines forge log lines) and cap the length to the column.
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/g // eslint-disable-line no-control-regex
function clean(value: string | null | undefined, max: number): string | null {
  if (value === null || value === undefined) return null
  return [...value.replace(CONTROL_CHARS, '')].slice(0, max).join('')
}

export function createAuditLog(deps: {
  db: Db
  clock: Clock
  /** Called after each write: the sealer's cue (SPEC §4.14). */
  written?: () => void
}): AuditLog {
  return {
    async record(entry) {
      await insertAuditEvent(deps.db, {
        time: deps.clock.now().getTime(),
        event: entry.event,
        outcome: entry.outcome,
        user_id: entry.userId ?? null,
        username: clean(entry.username, 128),
        ip: clean(entry.context?.ip, 64),
        user_agent: clean(entry.context?.userAgent, 256),
        actor_id: entry.actorId ?? null,
        details: entry.details ? JSON.stringify(entry.details) : null,
      })
      deps.written?.()
    },
  }
}
