import type { Db } from '../db.js'
import type { UsersTable } from '../tables.js'

export type ContactRow = Pick<
  UsersTable,
  | 'id'
  | 'username'
  | 'email'
  | 'email_verified_at'
  | 'phone'
  | 'phone_verified_at'
  | 'locked_at'
  | 'disabled_at'
>

const contactColumns = [
  'id',
  'username',
  'email',
  'email_verified_at',
  'phone',
  'phone_verified_at',
  'locked_at',
  'disabled_at',
] as const

/** A user by normalized username or email, without the password hash. */
export async function findContactsByIdentifier(
  db: Db,
  identifier: string,
): Promise<ContactRow | undefined> {
  return db
    .selectFrom('users')
    .select(contactColumns)
    .where((eb) =>
      eb.or([eb('username_normalized', '=', identifier), eb('email_normalized', '=', identifier)]),
    )
    .orderBy('created_at')
    .executeTakeFirst()
}

export async function findContactsById(db: Db, userId: string): Promise<ContactRow | undefined> {
  return db.selectFrom('users').select(contactColumns).where('id', '=', userId).executeTakeFirst()
}

/**
 * Marks the contact verified, only if it is still the address the code went to: a code
 * sent to an old address must not verify a new one.
 */
export async function markContactVerified(
  db: Db,
  userId: string,
  channel: 'email' | 'sms',
  destination: string,
  now: number,
): Promise<boolean> {
  const res =
    channel === 'email'
      ? await db
          .updateTable('users')
          .set({ email_verified_at: now, updated_at: now })
          .where('id', '=', userId)
          .where('email', '=', destination)
          .executeTakeFirst()
      : await db
          .updateTable('users')
          .set({ phone_verified_at: now, updated_at: now })
          .where('id', '=', userId)
          .where('phone', '=', destination)
          .executeTakeFirst()
  return Number(res.numUpdatedRows) === 1
}
