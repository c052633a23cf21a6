import type { Db } from '../../store/db.js'
import { insertAuditEvent } from '../../store/repositories/audit.js'
import type { Clock } from '../ports.js'
import { afterCommit, inTransaction } from '../../store/transactions.js'

/** Every event the audit log records (the web UI's filter lists the same, test/unit/web). */
export const AUDIT_EVENTS = [
  'register',
  'contact_verified',
  'login_succeeded',
  'login_failed',
  'mfa_succeeded',
  'mfa_failed',
  'account_locked',
  'account_unlocked',
  'password_changed',
  'password_reset_requested',
  'password_reset',
  'mfa_enabled',
  'mfa_disabled',
  'backup_code_used',
  'backup_codes_regenerated',
  'passkey_registered',
  'passkey_removed',
  'passkey_counter_regressed',
  'session_ended',
  'refresh_token_reused',
  'role_created',
  'user_updated',
  'user_deleted',
  'mfa_reset',
  'api_key_created',
  'api_key_revoked',
  'totp_service_registered',
  'totp_service_verified',
  'totp_service_read',
  'totp_service_deleted',
  'signing_key_rotated',
  'compromise_reported',
  'oidc_client_created',
  'oidc_client_updated',
  'oidc_client_deleted',
  'oidc_authorized',
  'oidc_token_revoked',
] as const

export type AuditEventName = (typeof AUDIT_EVENTS)[number]

/** Who made a request: copied into every event that request causes. */
export interface RequestContext {
  ip: string | null
  userAgent: string | null
  /** Fires when the client hung up before its answer: work still waiting for it is dropped. */
  signal?: AbortSignal
}

/** What an audit row says beyond its columns: flat, so every consumer reads it the same way. */
export type AuditDetails = Record<string, string | number | boolean | null | string[]>

export interface AuditEntry {
  event: AuditEventName
  outcome: 'success' | 'failure'
  userId?: string | null
  /** The username as the client entered it (for failures of unknown users too). */
  username?: string | null
  actorId?: string | null
  /** Never a password, code, token, secret or hash: callers pass reasons and ids only. */
  details?: AuditDetails
  context?: RequestContext
}

/** Who did an admin action, and from where. */
export interface AuditActor {
  actorId: string | null
  context?: RequestContext
}

/** A successful admin action on something other than an account (keys, roles, clients). */
export function actorEvent(
  event: AuditEventName,
  by: AuditActor,
  details: AuditDetails,
): AuditEntry {
  return { event, outcome: 'success', actorId: by.actorId, details, context: by.context }
}

export interface AuditLog {
  /** Records the event (and its notice, if any) on its own. */
  record(entry: AuditEntry): Promise<void>
  /**
   * Writes the event (and its notice, if any) in the caller's transaction `trx`, so it
   * commits or rolls back with the change it records; the sealer and the notifier wake after
   * the commit.
   */
  recordIn(trx: Db, entry: AuditEntry): Promise<void>
  /**
   * A change and its audit events as one transaction: `work` writes the change through `trx`
   * and its events through `record`.
   */
  change<T>(work: (trx: Db, record: (entry: AuditEntry) => Promise<void>) => Promise<T>): Promise<T>
}

// Entered text reaches the log verbatim otherwise: strip control characters (NUL breaks
// PostgreSQL text, newlines forge log lines) and cap the length to the column.
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/g // eslint-disable-line no-control-regex
function clean(value: string | null | undefined, max: number): string | null {
  if (value === null || value === undefined) return null
  return [...value.replace(CONTROL_CHARS, '')].slice(0, max).join('')
}

/** What else an audit event writes in its own transaction: the notification outbox (§4.13). */
export interface AuditSideEffects {
  concerns(entry: AuditEntry): boolean
  enqueue(trx: Db, entry: AuditEntry, atMs: number): Promise<boolean>
  /** Called after the commit when `enqueue` wrote something. */
  kick(): void
}

export function createAuditLog(deps: {
  db: Db
  clock: Clock
  /** Called after each write: the sealer's cue (SPEC §4.14). */
  written?: () => void
  sideEffects?: AuditSideEffects
}): AuditLog {
  const effects = deps.sideEffects
  function rowOf(entry: AuditEntry, atMs: number) {
    return {
      time: atMs,
      event: entry.event,
      outcome: entry.outcome,
      user_id: entry.userId ?? null,
      username: clean(entry.username, 128),
      ip: clean(entry.context?.ip, 64),
      user_agent: clean(entry.context?.userAgent, 256),
      actor_id: entry.actorId ?? null,
      details: entry.details ? JSON.stringify(entry.details) : null,
    }
  }
  /**
   * The event and its notice, in `trx` (a notice is written with its event or not at all: a
   * crash between the two would otherwise lose it, or send one for an event never recorded).
   */
  async function recordIn(trx: Db, entry: AuditEntry): Promise<void> {
    const atMs = deps.clock.now().getTime()
    await insertAuditEvent(trx, rowOf(entry, atMs))
    const queued = effects?.concerns(entry) ? await effects.enqueue(trx, entry, atMs) : false
    afterCommit(trx, () => {
      if (queued) effects?.kick()
      deps.written?.()
    })
  }
  return {
    record: (entry) =>
      effects?.concerns(entry)
        ? inTransaction(deps.db, (trx) => recordIn(trx, entry))
        : recordIn(deps.db, entry),
    recordIn,
    change: (work) => inTransaction(deps.db, (trx) => work(trx, (entry) => recordIn(trx, entry))),
  }
}
