import type { ColumnDefinitionBuilder, Kysely } from 'kysely'

// Migrations see Kysely<any>: they describe the schema at one point in history and must
// not depend on today's table types.
/* eslint-disable @typescript-eslint/no-explicit-any */
export async function up(db: Kysely<any>): Promise<void> {
  const millis = 'bigint'
  const userRef = (c: ColumnDefinitionBuilder) =>
    c.notNull().references('users.id').onDelete('cascade')

  // One TOTP secret per user: pending (enabled_at null) until a code confirms it.
  await db.schema
    .createTable('totp_secrets')
    .addColumn('user_id', 'varchar(32)', (c) => userRef(c).primaryKey())
    .addColumn('secret_sealed', 'varchar(512)', (c) => c.notNull())
    .addColumn('enabled_at', millis)
    // RFC 6238 §5.2: the step of the last accepted code; only later steps are accepted.
    .addColumn('last_step', millis)
    .addColumn('created_at', millis, (c) => c.notNull())
    .execute()

  await db.schema
    .createTable('backup_codes')
    .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('user_id', 'varchar(32)', userRef)
    .addColumn('code_hash', 'varchar(64)', (c) => c.notNull())
    .addColumn('used_at', millis)
    .addColumn('created_at', millis, (c) => c.notNull())
    .execute()
  await db.schema
    .createIndex('backup_codes_user')
    .on('backup_codes')
    .columns(['user_id', 'code_hash'])
    .execute()

  // Email and SMS as second factors: a row means the factor is on.
  await db.schema
    .createTable('mfa_channels')
    .addColumn('user_id', 'varchar(32)', userRef)
    .addColumn('channel', 'varchar(16)', (c) => c.notNull())
    .addColumn('created_at', millis, (c) => c.notNull())
    .addPrimaryKeyConstraint('mfa_channels_pk', ['user_id', 'channel'])
    .execute()

  // Email and SMS codes for contact verification, login and password reset.
  await db.schema
    .createTable('one_time_codes')
    .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('user_id', 'varchar(32)', userRef)
    .addColumn('purpose', 'varchar(32)', (c) => c.notNull())
    .addColumn('channel', 'varchar(16)', (c) => c.notNull())
    .addColumn('destination', 'varchar(255)', (c) => c.notNull())
    .addColumn('code_hash', 'varchar(64)', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', millis, (c) => c.notNull())
    .addColumn('expires_at', millis, (c) => c.notNull())
    .addColumn('used_at', millis)
    .execute()
  await db.schema
    .createIndex('one_time_codes_user')
    .on('one_time_codes')
    .columns(['user_id', 'purpose', 'channel'])
    .execute()

  // Send times per (user, purpose, channel) for the 1/min and 5/h throttle; `version` makes
  // the update a compare-and-set, so instances sharing the database share the limit.
  await db.schema
    .createTable('code_sends')
    .addColumn('user_id', 'varchar(32)', userRef)
    .addColumn('purpose', 'varchar(32)', (c) => c.notNull())
    .addColumn('channel', 'varchar(16)', (c) => c.notNull())
    .addColumn('sent_at', 'varchar(255)', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('code_sends_pk', ['user_id', 'purpose', 'channel'])
    .execute()

  // The second step of a login: the token is stored as its SHA-256 only.
  await db.schema
    .createTable('mfa_tokens')
    .addColumn('token_hash', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('user_id', 'varchar(32)', userRef)
    .addColumn('login_name', 'varchar(255)', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', millis, (c) => c.notNull())
    .addColumn('expires_at', millis, (c) => c.notNull())
    .addColumn('spent_at', millis)
    .execute()
  await db.schema.createIndex('mfa_tokens_expires').on('mfa_tokens').column('expires_at').execute()
}
