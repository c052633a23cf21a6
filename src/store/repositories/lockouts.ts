import { MysqlAdapter, sql } from 'kysely'
import type { Db } from '../db.js'
import { precompiledFor, precompiledWrite } from '../precompiled.js'
import { namedBy } from './login-identifier.js'

export interface LockoutState {
  userId: string
  failures: number
  /** Epoch ms, or null when no automatic lockout was ever set. */
  lockedUntil: number | null
  generation: number
  /** False until the account's first counted attempt creates its row. */
  stored: boolean
}

/**
 * The account a login identifier (normalized username or email) names, with its lockout
 * state; a user without a row yet has a clean one.
 */
export async function findLockoutByIdentifier(
  db: Db,
  identifier: string,
): Promise<LockoutState | undefined> {
  const [row] = await lockoutByIdentifier(db, { identifier })
  return row && lockoutStateOf(row)
}

export async function findLockout(db: Db, userId: string): Promise<LockoutState | undefined> {
  const [row] = await lockoutById(db, { userId })
  return row && lockoutStateOf(row)
}

// Every second-factor attempt and password re-check reads one of these first (a login's first
// look comes with its account read, users.ts; a retry after waiting reads by identifier): built
// once (precompiled.ts).
const lockoutByIdentifier = precompiledFor(
  ['identifier'],
  (db, { identifier }: { identifier: string }) =>
    selectLockouts(db).where(namedBy(identifier)).orderBy('users.created_at').limit(1),
)
const lockoutById = precompiledFor(['userId'], (db, { userId }: { userId: string }) =>
  selectLockouts(db).where('users.id', '=', userId),
)

/** A lockout row's columns, from a left join on `users` (most users never failed a login). */
export const lockoutColumns = [
  'login_lockouts.failures as failures',
  'login_lockouts.locked_until as lockedUntil',
  'login_lockouts.generation as generation',
] as const

/** Users with their lockout row, if any. */
function selectLockouts(db: Db) {
  return db
    .selectFrom('users')
    .leftJoin('login_lockouts', 'login_lockouts.user_id', 'users.id')
    .select('users.id as userId')
    .select(lockoutColumns)
}

/** A lockout state from the joined columns; an account without a row yet has a clean one. */
export function lockoutStateOf(row: {
  userId: string
  failures: number | null
  lockedUntil: number | null
  generation: number | null
}): LockoutState {
  // MySQL drivers may hand integers back as strings in joins; keep numbers numbers.
  return {
    userId: row.userId,
    failures: Number(row.failures ?? 0),
    lockedUntil: row.lockedUntil === null ? null : Number(row.lockedUntil),
    generation: Number(row.generation ?? 0),
    stored: row.failures !== null,
  }
}

/** Creates the row if it is missing; a concurrent creator winning is just as good. */
export async function ensureLockoutRow(db: Db, userId: string, nowMs: number): Promise<void> {
  // No unique-violation catch: inside a caller's transaction (an unlock), PostgreSQL would
  // abort it.
  const insert = db.insertInto('login_lockouts').values({
    user_id: userId,
    failures: 0,
    locked_until: null,
    generation: 0,
    updated_at: nowMs,
  })
  if (db.getExecutor().adapter instanceof MysqlAdapter) await insert.ignore().execute()
  else await insert.onConflict((oc) => oc.column('user_id').doNothing()).execute()
}

const notLocked = (nowMs: number) =>
  sql<boolean>`(locked_until is null or locked_until <= ${nowMs})`

/**
 * Takes one of the `threshold` consecutive attempts before the password is checked: one
 * conditional write, so parallel attempts can never take more than there are.
 */
export async function reserveAttempt(
  db: Db,
  userId: string,
  threshold: number,
  nowMs: number,
): Promise<boolean> {
  return (await reserveAttemptQuery(db, { userId, threshold, nowMs })) === 1
}

/** Returns a reserved attempt that turned out not to be a failure. */
export async function releaseAttempt(db: Db, userId: string, nowMs: number): Promise<void> {
  await releaseAttemptQuery(db, { userId, nowMs })
}

/** A completed login: the consecutive count starts again. */
export async function resetFailures(db: Db, userId: string, nowMs: number): Promise<void> {
  await resetFailuresQuery(db, { userId, nowMs })
}

// Every login runs two of these three: built once (precompiled.ts).
type AttemptParams = { userId: string; nowMs: number }
const reserveAttemptQuery = precompiledWrite(
  ['userId', 'threshold', 'nowMs'],
  (db, { userId, threshold, nowMs }: AttemptParams & { threshold: number }) =>
    db
      .updateTable('login_lockouts')
      .set({ failures: sql`failures + 1`, updated_at: nowMs })
      .where('user_id', '=', userId)
      .where('failures', '<', threshold)
      .where(notLocked(nowMs)),
)
const releaseAttemptQuery = precompiledWrite(['userId', 'nowMs'], (db, p: AttemptParams) =>
  db
    .updateTable('login_lockouts')
    .set({ failures: sql`failures - 1`, updated_at: p.nowMs })
    .where('user_id', '=', p.userId)
    .where('failures', '>', 0),
)
const resetFailuresQuery = precompiledWrite(['userId', 'nowMs'], (db, p: AttemptParams) =>
  db
    .updateTable('login_lockouts')
    .set({ failures: 0, updated_at: p.nowMs })
    .where('user_id', '=', p.userId)
    .where('failures', '>', 0),
)

/**
 * Locks the account when the threshold is reached. Of several failures reaching it at
 * once, exactly one write succeeds, so the lockout is set (and audited) once.
 */
export async function lockIfThresholdReached(
  db: Db,
  userId: string,
  threshold: number,
  nowMs: number,
  untilMs: number,
): Promise<boolean> {
  const res = await db
    .updateTable('login_lockouts')
    .set({ failures: 0, locked_until: untilMs, updated_at: nowMs })
    .where('user_id', '=', userId)
    .where('failures', '>=', threshold)
    .where(notLocked(nowMs))
    .executeTakeFirst()
  return Number(res.numUpdatedRows) === 1
}

/**
 * Of these users, those an automatic lockout holds at `nowMs`: an admin sees them as locked
 * (the user object's `locked`), so the one who can unlock them knows to.
 */
export async function lockedOutAmong(
  db: Db,
  userIds: readonly string[],
  nowMs: number,
): Promise<Set<string>> {
  if (userIds.length === 0) return new Set()
  const rows = await db
    .selectFrom('login_lockouts')
    .select('user_id')
    .where('user_id', 'in', userIds)
    .where('locked_until', '>', nowMs)
    .execute()
  return new Set(rows.map((r) => r.user_id))
}

/** Lifts an automatic lockout and restarts counting; true when one was in force. */
export async function liftLockout(db: Db, userId: string, nowMs: number): Promise<boolean> {
  await ensureLockoutRow(db, userId, nowMs)
  const before = await findLockout(db, userId)
  await db
    .updateTable('login_lockouts')
    .set({ failures: 0, locked_until: null, generation: sql`generation + 1`, updated_at: nowMs })
    .where('user_id', '=', userId)
    .execute()
  return before?.lockedUntil != null && before.lockedUntil > nowMs
}

/** An admin's lock (`users.locked_at`); true when this call changed it. */
export async function setAdminLock(
  db: Db,
  userId: string,
  locked: boolean,
  nowMs: number,
): Promise<boolean> {
  const res = await db
    .updateTable('users')
    .set({ locked_at: locked ? nowMs : null, updated_at: nowMs })
    .where('id', '=', userId)
    .where('locked_at', locked ? 'is' : 'is not', null)
    .executeTakeFirst()
  return Number(res.numUpdatedRows) === 1
}
