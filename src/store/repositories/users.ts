import { sql } from 'kysely'
import type { Db } from '../db.js'
import { keysetPage, type KeysetPosition } from '../keyset.js'
import type { UsersTable } from '../tables.js'
import { precompiledFor } from '../precompiled.js'
import { lockoutColumns, lockoutStateOf, type LockoutState } from './lockouts.js'
import { namedBy } from './login-identifier.js'
import { mfaCountSelections, mfaCountsOf, type MfaCounts } from './mfa-facts.js'

/** What the notifications repository alone reads and writes is not part of a user's row. */
type NotMeBookkeeping = 'compromise_resolved_at'
export type UserRow = Omit<UsersTable, 'password_hash' | NotMeBookkeeping>
export type NewUserRow = Omit<UsersTable, NotMeBookkeeping>

const publicColumns = [
  'id',
  'username',
  'username_normalized',
  'email',
  'email_normalized',
  'email_verified_at',
  'phone',
  'phone_verified_at',
  'locked_at',
  'disabled_at',
  'created_at',
  'updated_at',
] as const

/** Inserts a user and their roles on a connection the caller holds (a transaction). */
export async function insertUserWithRoles(
  trx: Db,
  row: NewUserRow,
  roles: readonly string[],
): Promise<void> {
  await trx.insertInto('users').values(row).execute()
  if (roles.length > 0) {
    await trx
      .insertInto('user_roles')
      .values(roles.map((role_name) => ({ user_id: row.id, role_name })))
      .execute()
  }
}

export async function findUserById(db: Db, id: string): Promise<UserRow | undefined> {
  const [row] = await userByIdQuery(db, { id })
  return row
}

// Every login and token refresh reads it: built once (precompiled.ts).
const userByIdQuery = precompiledFor(['id'], (db, { id }: { id: string }) =>
  db.selectFrom('users').select(publicColumns).where('id', '=', id),
)

/**
 * The columns a login reads, not all: better-sqlite3 builds a row of twenty columns or more
 * as a dictionary-mode object (slower to build, read and spread), and with its lockout and
 * factor counts this row had 22, on every login.
 */
const loginColumns = ['id', 'username', 'password_hash', 'disabled_at', 'locked_at'] as const
type LoginColumn = (typeof loginColumns)[number]

/**
 * An account as a login reads it: the row with its hash, whether it was reported, its second
 * factors and its lockout state.
 */
export type LoginRecord = Pick<UsersTable, LoginColumn> & {
  compromised: boolean
  mfa: MfaCounts
  lockout: LockoutState
}

/**
 * The row with its password hash, found by normalized username or email (only login needs
 * it), whether its owner reported a sign-in as not theirs (SPEC §4.13), what second factors
 * it has (what the login asks for next) and its lockout state (what the login guard checks
 * first), in one read.
 */
export async function findLoginRecord(
  db: Db,
  identifier: string,
): Promise<LoginRecord | undefined> {
  const [row] = await loginRecordQuery(db, { identifier })
  if (!row) return undefined
  const {
    reported_by,
    failures,
    lockedUntil,
    generation,
    n_totp,
    n_email,
    n_sms,
    n_backup,
    n_passkeys,
    ...user
  } = row
  return {
    ...user,
    compromised: reported_by !== null,
    mfa: mfaCountsOf({ n_totp, n_email, n_sms, n_backup, n_passkeys }),
    lockout: lockoutStateOf({ userId: user.id, failures, lockedUntil, generation }),
  }
}

// Every login reads it: built once (precompiled.ts).
const loginRecordQuery = precompiledFor(
  ['identifier'],
  (db, { identifier }: { identifier: string }) =>
    db
      .selectFrom('users')
      .leftJoin('compromised_accounts', 'compromised_accounts.user_id', 'users.id')
      .leftJoin('login_lockouts', 'login_lockouts.user_id', 'users.id')
      .select(loginColumns.map((c) => `users.${c}` as const))
      .select('compromised_accounts.user_id as reported_by')
      .select(lockoutColumns)
      .select(mfaCountSelections(db, sql.ref<string>('users.id')))
      .where(namedBy(identifier))
      .orderBy('users.created_at')
      .limit(1),
)

export async function findPasswordHash(db: Db, userId: string): Promise<string | null | undefined> {
  const row = await db
    .selectFrom('users')
    .select('password_hash')
    .where('id', '=', userId)
    .executeTakeFirst()
  return row?.password_hash
}

export async function updatePasswordHash(
  db: Db,
  userId: string,
  passwordHash: string,
  now: number,
): Promise<void> {
  await db
    .updateTable('users')
    .set({ password_hash: passwordHash, updated_at: now })
    .where('id', '=', userId)
    .execute()
}

export async function listUsers(
  db: Db,
  opts: { limit: number; after?: KeysetPosition; prefix?: string },
): Promise<UserRow[]> {
  let q = db.selectFrom('users').select(publicColumns)
  if (opts.prefix) {
    // Wildcards in the search text match literally. '!' is the escape character because a
    // backslash means different things in MySQL and PostgreSQL string literals.
    const pattern = `${opts.prefix.replace(/[!%_]/g, (c) => `!${c}`)}%`
    q = q.where((eb) =>
      eb.or([
        sql<boolean>`${eb.ref('username_normalized')} like ${pattern} escape '!'`,
        sql<boolean>`${eb.ref('email_normalized')} like ${pattern} escape '!'`,
      ]),
    )
  }
  return keysetPage(q, opts)
}
