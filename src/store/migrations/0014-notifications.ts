import type { Kysely } from 'kysely'

/**
 * SPEC §4.13. The outbox holds security notifications until a worker (on any instance)
 * has delivered them: written with the audit row of the event that causes them, claimed by
 * a conditional update, retried with backoff. Known devices make "new device" one lookup
 * instead of a scan of the audit log. A "this wasn't me" token is kept only as its hash.
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
export async function up(db: Kysely<any>): Promise<void> {
  const millis = 'bigint'
  await db.schema
    .createTable('notification_outbox')
    .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('user_id', 'varchar(32)', (c) =>
      c.notNull().references('users.id').onDelete('cascade'),
    )
    .addColumn('kind', 'varchar(32)', (c) => c.notNull())
    .addColumn('occurred_at', millis, (c) => c.notNull())
    .addColumn('ip', 'varchar(64)')
    .addColumn('user_agent', 'varchar(512)')
    .addColumn('details', 'text') // JSON object
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('next_attempt_at', millis, (c) => c.notNull())
    .addColumn('claimed_until', millis)
    .addColumn('sent_at', millis)
    .addColumn('gave_up_at', millis)
    .addColumn('last_error', 'varchar(255)')
    .execute()
  await db.schema
    .createIndex('notification_outbox_due')
    .on('notification_outbox')
    .columns(['sent_at', 'gave_up_at', 'next_attempt_at'])
    .execute()

  await db.schema
    .createTable('known_devices')
    .addColumn('user_id', 'varchar(32)', (c) =>
      c.notNull().references('users.id').onDelete('cascade'),
    )
    // SHA-256 of user agent and network (IPv4 /24, IPv6 /48): no raw address is kept here.
    .addColumn('device_hash', 'varchar(64)', (c) => c.notNull())
    .addColumn('last_seen_at', millis, (c) => c.notNull())
    .addPrimaryKeyConstraint('known_devices_pk', ['user_id', 'device_hash'])
    .execute()

  await db.schema
    .createTable('not_me_tokens')
    .addColumn('token_hash', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('user_id', 'varchar(32)', (c) =>
      c.notNull().references('users.id').onDelete('cascade'),
    )
    .addColumn('created_at', millis, (c) => c.notNull())
    .addColumn('expires_at', millis, (c) => c.notNull())
    .addColumn('used_at', millis)
    .execute()

  // An account whose owner said "this wasn't me": its password is refused until a reset.
  await db.schema
    .createTable('compromised_accounts')
    .addColumn('user_id', 'varchar(32)', (c) =>
      c.primaryKey().references('users.id').onDelete('cascade'),
    )
    .addColumn('reported_at', millis, (c) => c.notNull())
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('compromised_accounts').execute()
  await db.schema.dropTable('not_me_tokens').execute()
  await db.schema.dropTable('known_devices').execute()
  await db.schema.dropTable('notification_outbox').execute()
}
