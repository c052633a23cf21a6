import { sha256Hex } from '../../crypto/token-digest.js'
import type { Db } from '../../store/db.js'
import { findContactsById } from '../../store/repositories/contacts.js'
import {
  claimOutboxRow,
  dueOutboxRows,
  insertNotMeToken,
  insertOutboxRow,
  markOutboxFailed,
  markOutboxSent,
  touchKnownDevice,
  type OutboxRow,
} from '../../store/repositories/notifications.js'
import type { AuditEntry, AuditEventName } from '../audit/audit-log.js'
import { newId } from '../ids.js'
import {
  loggable,
  type WarningLog,
  type Clock,
  type Mailer,
  type Random,
  type SmsSender,
} from '../ports.js'
import { deviceHash } from './device.js'
import { composeNotice, type NotifyKind } from './messages.js'

const DAY_MS = 24 * 3600 * 1000
/** SPEC §4.13: a device unseen in the user's successful logins of the last 90 days is new. */
const NEW_DEVICE_AFTER_MS = 90 * DAY_MS
const NOT_ME_TTL_MS = 7 * DAY_MS
/** A claimed row is another worker's for this long; past it, the sender is presumed dead. */
const LEASE_MS = 2 * 60 * 1000
const MAX_ATTEMPTS = 8
const BATCH = 20

/** 30 s, 1 min, 2 min … capped at 1 h: a flaky SMTP server gets time to recover. */
export const retryDelayMs = (attempts: number) =>
  Math.min(30_000 * 2 ** Math.max(0, attempts - 1), 3600_000)

const KIND_OF_EVENT: Partial<Record<AuditEventName | 'passkey_registered', NotifyKind>> = {
  mfa_enabled: 'factor_changed',
  backup_codes_regenerated: 'factor_changed',
  passkey_registered: 'factor_changed',
  passkey_removed: 'factor_changed',
  mfa_disabled: 'mfa_disabled',
  mfa_reset: 'mfa_disabled',
  backup_code_used: 'backup_code_used',
  account_locked: 'account_locked',
  password_changed: 'password_changed',
  password_reset: 'password_changed',
  refresh_token_reused: 'refresh_token_reused',
}

/** Events that are themselves a failure and still worth telling the owner about. */
const FAILURE_EVENTS = new Set<string>(['refresh_token_reused', 'account_locked'])

export interface Notifier {
  /**
   * Called by the audit log inside the transaction that writes `entry`: writes the outbox
   * row the event calls for (and, for a login, records the device). True when it wrote one.
   */
  enqueue(trx: Db, entry: AuditEntry, atMs: number): Promise<boolean>
  /** Whether `entry` may call for a notice (so the audit log opens a transaction only then). */
  concerns(entry: AuditEntry): boolean
  /** Asks for a delivery pass after the current request; never waits, never throws. */
  kick(): void
  /** One delivery pass over the due rows; returns how many this worker sent. */
  deliverDue(): Promise<number>
  stop(): Promise<void>
}

export function createNotifier(deps: {
  db: Db
  clock: Clock
  random: Random
  mailer: Mailer
  sms: SmsSender
  log: WarningLog
  cfg: { kinds: ReadonlySet<NotifyKind>; publicUrl: string; appName: string; intervalMs: number }
}): Notifier {
  const { db, clock, cfg } = deps

  function kindOf(entry: AuditEntry): NotifyKind | undefined {
    if (!entry.userId) return undefined
    if (entry.outcome !== 'success' && !FAILURE_EVENTS.has(entry.event)) return undefined
    if (entry.event === 'login_succeeded') return 'new_device'
    // A backup code spent to turn two-step verification off is told by that notice, which
    // follows; this one would claim a sign-in and count codes that are about to be gone.
    if (entry.event === 'backup_code_used' && entry.details?.action !== undefined) return undefined
    // SPEC §4.13 "an account locked": an admin's lock (API or CLI) as well as the automatic
    // lockout. The person finds out why sign-in stopped working, and if they did not expect
    // it, whom to ask.
    if (entry.event === 'user_updated')
      return entry.details?.locked === true ? 'account_locked' : undefined
    return KIND_OF_EVENT[entry.event]
  }

  async function enqueue(trx: Db, entry: AuditEntry, atMs: number): Promise<boolean> {
    const kind = kindOf(entry)
    if (kind === undefined || !entry.userId) return false
    const context = entry.context ?? { ip: null, userAgent: null }
    if (kind === 'new_device') {
      // Every login is remembered, even with the notice switched off, so switching it on
      // later does not greet every known device as new.
      const seen = await touchKnownDevice(
        trx,
        entry.userId,
        deviceHash(context.userAgent, context.ip),
        atMs,
      )
      const isNew = seen.lastSeenMs === undefined || atMs - seen.lastSeenMs > NEW_DEVICE_AFTER_MS
      // The first login of an account has nothing to compare with: no notice for it.
      if (!isNew || !seen.anyKnown || !cfg.kinds.has(kind)) return false
    } else if (!cfg.kinds.has(kind)) {
      return false
    }
    await insertOutboxRow(trx, {
      id: newId(deps.random),
      user_id: entry.userId,
      kind,
      occurred_at: atMs,
      ip: context.ip?.slice(0, 64) ?? null,
      user_agent: context.userAgent?.slice(0, 512) ?? null,
      details: JSON.stringify({ ...entry.details, event: entry.event }),
      attempts: 0,
      next_attempt_at: atMs,
      claimed_until: null,
      sent_at: null,
      gave_up_at: null,
      last_error: null,
    })
    return true
  }

  /**
   * A fresh single-use link for this message; only its hash is stored, with what following
   * it undoes beyond the sessions and the password: the factors added since the event, and
   * the passkey the message reports as added (created a moment before its audit row).
   */
  async function notMeUrl(
    row: OutboxRow,
    details: Record<string, unknown>,
    nowMs: number,
  ): Promise<string> {
    const token = deps.random.bytes(32).toString('base64url')
    await insertNotMeToken(db, {
      tokenHash: sha256Hex(token),
      userId: row.user_id,
      nowMs,
      expiresAtMs: nowMs + NOT_ME_TTL_MS,
      eventAtMs: Number(row.occurred_at),
      passkeyId:
        details.event === 'passkey_registered' && typeof details.passkey_id === 'string'
          ? details.passkey_id
          : undefined,
    })
    return `${cfg.publicUrl}/not-me?token=${token}`
  }

  async function deliver(row: OutboxRow, nowMs: number): Promise<'sent' | 'nobody'> {
    const user = await findContactsById(db, row.user_id)
    const email = user?.email_verified_at != null ? user.email : null
    const phone = user?.phone_verified_at != null ? user.phone : null
    if (!user || (!email && !phone)) return 'nobody'
    const details = row.details ? (JSON.parse(row.details) as Record<string, unknown>) : {}
    const notice = composeNotice({
      appName: cfg.appName,
      username: user.username,
      kind: row.kind as NotifyKind,
      event: typeof details.event === 'string' ? details.event : row.kind,
      occurredAt: new Date(Number(row.occurred_at)),
      ip: row.ip,
      userAgent: row.user_agent,
      details,
      notMeUrl: await notMeUrl(row, details, nowMs),
    })
    if (email)
      await deps.mailer.send({
        to: email,
        subject: notice.subject,
        text: notice.text,
        html: notice.html,
      })
    else await deps.sms.send({ to: phone!, text: notice.sms })
    return 'sent'
  }

  async function deliverDue(): Promise<number> {
    let sent = 0
    const nowMs = clock.now().getTime()
    for (const row of await dueOutboxRows(db, nowMs, BATCH)) {
      if (!(await claimOutboxRow(db, row, nowMs, LEASE_MS))) continue
      const attempts = row.attempts + 1
      try {
        const outcome = await deliver(row, nowMs)
        if (outcome === 'sent') {
          await markOutboxSent(db, row.id, clock.now().getTime())
          sent++
        } else {
          await markOutboxFailed(db, row.id, 'no verified email or phone', { gaveUpAtMs: nowMs })
        }
      } catch (err) {
        const last = attempts >= MAX_ATTEMPTS
        deps.log.warn(
          { notification: row.id, kind: row.kind, attempts, err: loggable(err) },
          last
            ? 'security notification not delivered; giving up'
            : 'security notification not delivered; will retry',
        )
        await markOutboxFailed(
          db,
          row.id,
          err instanceof Error ? err.message : String(err),
          last ? { gaveUpAtMs: nowMs } : { retryAtMs: nowMs + retryDelayMs(attempts) },
        )
      }
    }
    return sent
  }

  // One pass at a time per instance; a kick during a pass asks for one more.
  let running: Promise<void> | undefined
  let again = false
  // The periodic pass (retries, rows an earlier process left) starts with the first kick: the
  // notifier is built before the migrations run, and a pass on a database still being
  // migrated warned of a missing table. serve.ts kicks once the database is migrated.
  let timer: NodeJS.Timeout | undefined
  let stopped = false
  function kick(): void {
    if (!timer && !stopped) {
      timer = setInterval(kick, cfg.intervalMs)
      timer.unref()
    }
    if (running) {
      again = true
      return
    }
    running = (async () => {
      // After the response: the request that kicked never waits for SMTP.
      await new Promise((resolve) => setImmediate(resolve))
      do {
        again = false
        await deliverDue()
      } while (again)
    })()
      .catch((err: unknown) => deps.log.warn({ err: loggable(err) }, 'notification pass failed'))
      .finally(() => {
        running = undefined
      })
  }

  return {
    enqueue,
    concerns: (entry) => kindOf(entry) !== undefined,
    kick,
    deliverDue,
    async stop() {
      stopped = true
      clearInterval(timer)
      await running
    },
  }
}
