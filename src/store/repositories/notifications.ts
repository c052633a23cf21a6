import { MysqlAdapter, type Insertable, type Selectable } from 'kysely'
import type { Db } from '../db.js'
import { precompiledFor, precompiledWrite } from '../precompiled.js'
import type { NotificationOutboxTable } from '../tables.js'

export type OutboxRow = Selectable<NotificationOutboxTable>

export async function insertOutboxRow(
  db: Db,
  row: Insertable<NotificationOutboxTable>,
): Promise<void> {
  await db.insertInto('notification_outbox').values(row).execute()
}

const DEVICE_TOUCH_EVERY_MS = 3600_000

/**
 * Records a successful login's device and returns when it was last seen before (undefined:
 * never). One upsert per dialect, so two logins at once cannot both fail on the key.
 */
export async function touchKnownDevice(
  db: Db,
  userId: string,
  deviceHash: string,
  nowMs: number,
): Promise<{ lastSeenMs: number | undefined; anyKnown: boolean }> {
  const known = await knownDevicesQuery(db, { userId })
  const mine = known.find((d) => d.device_hash === deviceHash)
  // "New" is counted in days (90), so a device seen within the hour needs no write: most logins
  // come from a device seen minutes ago, and this spares them a statement.
  if (!mine || nowMs - Number(mine.last_seen_at) >= DEVICE_TOUCH_EVERY_MS)
    await touchDeviceQuery(db, { userId, deviceHash, nowMs })
  return { lastSeenMs: mine ? Number(mine.last_seen_at) : undefined, anyKnown: known.length > 0 }
}

// Every login runs both: built once (precompiled.ts).
const knownDevicesQuery = precompiledFor(['userId'], (db, { userId }: { userId: string }) =>
  db
    .selectFrom('known_devices')
    .select(['device_hash', 'last_seen_at'])
    .where('user_id', '=', userId),
)
const touchDeviceQuery = precompiledWrite(
  ['userId', 'deviceHash', 'nowMs'],
  (db, { userId, deviceHash, nowMs }: { userId: string; deviceHash: string; nowMs: number }) => {
    const insert = db
      .insertInto('known_devices')
      .values({ user_id: userId, device_hash: deviceHash, last_seen_at: nowMs })
    return db.getExecutor().adapter instanceof MysqlAdapter
      ? insert.onDuplicateKeyUpdate({ last_seen_at: nowMs })
      : insert.onConflict((oc) =>
          oc.columns(['user_id', 'device_hash']).doUpdateSet({ last_seen_at: nowMs }),
        )
  },
)

/** Rows due for delivery (not sent, not given up, not held by a live claim). */
export async function dueOutboxRows(db: Db, nowMs: number, limit: number): Promise<OutboxRow[]> {
  return db
    .selectFrom('notification_outbox')
    .selectAll()
    .where('sent_at', 'is', null)
    .where('gave_up_at', 'is', null)
    .where('next_attempt_at', '<=', nowMs)
    .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', nowMs)]))
    .orderBy('next_attempt_at')
    .limit(limit)
    .execute()
}

/**
 * Takes a row for one delivery attempt. The update names the attempt count it saw, so of
 * two workers (on any instances) that read the row, exactly one changes it.
 */
export async function claimOutboxRow(
  db: Db,
  row: OutboxRow,
  nowMs: number,
  leaseMs: number,
): Promise<boolean> {
  const result = await db
    .updateTable('notification_outbox')
    .set({ claimed_until: nowMs + leaseMs, attempts: row.attempts + 1 })
    .where('id', '=', row.id)
    .where('attempts', '=', row.attempts)
    .where('sent_at', 'is', null)
    .where('gave_up_at', 'is', null)
    .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', nowMs)]))
    .executeTakeFirst()
  return Number(result.numUpdatedRows) === 1
}

export async function markOutboxSent(db: Db, id: string, nowMs: number): Promise<void> {
  await db
    .updateTable('notification_outbox')
    .set({ sent_at: nowMs, claimed_until: null, last_error: null })
    .where('id', '=', id)
    .execute()
}

export async function markOutboxFailed(
  db: Db,
  id: string,
  error: string,
  next: { retryAtMs: number } | { gaveUpAtMs: number },
): Promise<void> {
  await db
    .updateTable('notification_outbox')
    .set({
      claimed_until: null,
      last_error: error.slice(0, 255),
      ...('retryAtMs' in next
        ? { next_attempt_at: next.retryAtMs }
        : { gave_up_at: next.gaveUpAtMs }),
    })
    .where('id', '=', id)
    .execute()
}

export async function insertNotMeToken(
  db: Db,
  row: {
    tokenHash: string
    userId: string
    nowMs: number
    expiresAtMs: number
    eventAtMs: number
    passkeyId: string | undefined
  },
): Promise<void> {
  await db
    .insertInto('not_me_tokens')
    .values({
      token_hash: row.tokenHash,
      user_id: row.userId,
      created_at: row.nowMs,
      expires_at: row.expiresAtMs,
      used_at: null,
      event_at: row.eventAtMs,
      passkey_id: row.passkeyId ?? null,
    })
    .execute()
}

export interface SpentNotMeToken {
  userId: string
  eventAtMs: number | undefined
  passkeyId: string | undefined
}

/**
 * Spends a live token in one conditional write; returns what it was for, or undefined. A link
 * for an event before the reset that answered a report is no longer live, however late its
 * notice was sent.
 */
export async function spendNotMeToken(
  db: Db,
  tokenHash: string,
  nowMs: number,
): Promise<SpentNotMeToken | undefined> {
  const result = await db
    .updateTable('not_me_tokens')
    .set({ used_at: nowMs })
    .where('token_hash', '=', tokenHash)
    .where('used_at', 'is', null)
    .where('expires_at', '>', nowMs)
    .where((eb) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom('users')
            .select('users.id')
            .whereRef('users.id', '=', 'not_me_tokens.user_id')
            .whereRef('users.compromise_resolved_at', '>', 'not_me_tokens.event_at'),
        ),
      ),
    )
    .executeTakeFirst()
  if (Number(result.numUpdatedRows) !== 1) return undefined
  const row = await db
    .selectFrom('not_me_tokens')
    .select(['user_id', 'event_at', 'passkey_id'])
    .where('token_hash', '=', tokenHash)
    .executeTakeFirst()
  return (
    row && {
      userId: row.user_id,
      eventAtMs: row.event_at === null ? undefined : Number(row.event_at),
      passkeyId: row.passkey_id ?? undefined,
    }
  )
}

export async function markCompromised(db: Db, userId: string, nowMs: number): Promise<void> {
  const insert = db
    .insertInto('compromised_accounts')
    .values({ user_id: userId, reported_at: nowMs })
  if (db.getExecutor().adapter instanceof MysqlAdapter)
    await insert.onDuplicateKeyUpdate({ reported_at: nowMs }).execute()
  else
    await insert
      .onConflict((oc) => oc.column('user_id').doUpdateSet({ reported_at: nowMs }))
      .execute()
}

export async function isCompromised(db: Db, userId: string): Promise<boolean> {
  return (await compromisedQuery(db, { userId })).length > 0
}

// Every login asks: built once (precompiled.ts).
const compromisedQuery = precompiledFor(['userId'], (db, { userId }: { userId: string }) =>
  db.selectFrom('compromised_accounts').select('user_id').where('user_id', '=', userId),
)

/**
 * The password reset after a "this wasn't me" report answers it: the mark goes, and with it
 * every link for an event before now, those still waiting in the outbox included. What they
 * told of came before the report, and following one would block the new password again and
 * remove the factors the owner has added since. False if the account was not marked.
 */
export async function resolveCompromise(db: Db, userId: string, nowMs: number): Promise<boolean> {
  const res = await db
    .deleteFrom('compromised_accounts')
    .where('user_id', '=', userId)
    .executeTakeFirst()
  if (Number(res.numDeletedRows) === 0) return false
  await db
    .updateTable('users')
    .set({ compromise_resolved_at: nowMs })
    .where('id', '=', userId)
    .execute()
  // Links sent before 0017 know no event time: spent here instead.
  await db
    .updateTable('not_me_tokens')
    .set({ used_at: nowMs })
    .where('user_id', '=', userId)
    .where('used_at', 'is', null)
    .execute()
  return true
}
