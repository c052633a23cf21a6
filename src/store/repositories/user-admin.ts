import { SqliteAdapter } from 'kysely'
import type { Db } from '../db.js'

/** Finds a user's id by username, case-insensitively (the CLI names users by username). */
export async function findUserIdByUsername(
  db: Db,
  usernameNormalized: string,
): Promise<string | undefined> {
  const row = await db
    .selectFrom('users')
    .select('id')
    .where('username_normalized', '=', usernameNormalized)
    .executeTakeFirst()
  return row?.id
}

/** Sets or clears a flag column; returns false when the user does not exist. */
export async function setUserFlag(
  db: Db,
  userId: string,
  flag: 'locked_at' | 'disabled_at',
  value: number | null,
  now: number,
): Promise<boolean> {
  const res = await db
    .updateTable('users')
    .set({ [flag]: value, updated_at: now })
    .where('id', '=', userId)
    .executeTakeFirst()
  return Number(res.numUpdatedRows) === 1
}

export async function deleteUser(db: Db, userId: string): Promise<boolean> {
  const res = await db.deleteFrom('users').where('id', '=', userId).executeTakeFirst()
  return Number(res.numDeletedRows) === 1
}

/**
 * Admins who can still act: holding the admin role, neither locked nor disabled.
 * `forChange`: read inside the transaction about to make one of them not count, with row
 * locks (PostgreSQL, MySQL), so that two such changes at once are decided one after the
 * other and the second sees the first; SQLite's write lock, taken at `begin`, orders them.
 */
export async function activeAdminIds(
  db: Db,
  opts: { forChange?: boolean } = {},
): Promise<string[]> {
  const rows = await db
    .selectFrom('user_roles')
    .innerJoin('users', 'users.id', 'user_roles.user_id')
    .select('users.id')
    .where('user_roles.role_name', '=', 'admin')
    .where('users.locked_at', 'is', null)
    .where('users.disabled_at', 'is', null)
    .$if(opts.forChange === true && !(db.getExecutor().adapter instanceof SqliteAdapter), (q) =>
      q.forUpdate(),
    )
    .execute()
  return rows.map((r) => r.id)
}

/** Which of these normalized usernames and emails are taken already. */
export async function takenIdentifiers(
  db: Db,
  username: string,
  email: string | null,
): Promise<{ username: boolean; email: boolean }> {
  const rows = await db
    .selectFrom('users')
    .select(['username_normalized', 'email_normalized'])
    .where((eb) =>
      email === null
        ? eb('username_normalized', '=', username)
        : eb.or([eb('username_normalized', '=', username), eb('email_normalized', '=', email)]),
    )
    .execute()
  return {
    username: rows.some((r) => r.username_normalized === username),
    email: email !== null && rows.some((r) => r.email_normalized === email),
  }
}
