import { sql, type Kysely } from 'kysely'
import { isMysql } from './dialect-helpers.js'

// Migrations see Kysely<any>: they describe the schema at one point in history and must
// not depend on today's table types.
/* eslint-disable @typescript-eslint/no-explicit-any */
export async function up(db: Kysely<any>): Promise<void> {
  const millis = 'bigint'
  // Challenges are looked up by value; MariaDB's default collation would match another
  // challenge that differs only in letter case.
  const challengeType = isMysql(db)
    ? sql`varchar(64) character set ascii collate ascii_bin`
    : sql`varchar(64)`

  await db.schema
    .createTable('webauthn_credentials')
    .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('user_id', 'varchar(32)', (c) =>
      c.notNull().references('users.id').onDelete('cascade'),
    )
    // WebAuthn credential ids are up to 1023 bytes (base64url here): too long to index on
    // MySQL, so lookups and uniqueness go through their SHA-256.
    .addColumn('credential_id', 'varchar(1400)', (c) => c.notNull())
    .addColumn('credential_id_hash', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('public_key', 'text', (c) => c.notNull()) // COSE key, base64url
    .addColumn('counter', 'bigint', (c) => c.notNull())
    .addColumn('transports', 'varchar(255)', (c) => c.notNull()) // JSON array
    .addColumn('name', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', millis, (c) => c.notNull())
    .addColumn('last_used_at', millis)
    .execute()
  await db.schema
    .createIndex('webauthn_credentials_user')
    .on('webauthn_credentials')
    .columns(['user_id', 'created_at'])
    .execute()

  // One row per ceremony: spent by a conditional update, so it is used once on any number
  // of instances. user_id is null for a passwordless login, whose user is not known yet.
  await db.schema
    .createTable('webauthn_challenges')
    .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('purpose', 'varchar(16)', (c) => c.notNull())
    .addColumn('user_id', 'varchar(32)', (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('challenge', challengeType, (c) => c.notNull())
    .addColumn('created_at', millis, (c) => c.notNull())
    .addColumn('expires_at', millis, (c) => c.notNull())
    .addColumn('used_at', millis)
    .execute()
  await db.schema
    .createIndex('webauthn_challenges_challenge')
    .on('webauthn_challenges')
    .column('challenge')
    .execute()
  await db.schema
    .createIndex('webauthn_challenges_expires')
    .on('webauthn_challenges')
    .column('expires_at')
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('webauthn_challenges').execute()
  await db.schema.dropTable('webauthn_credentials').execute()
}
