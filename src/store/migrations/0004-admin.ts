import type { Kysely } from 'kysely'

// Migrations see Kysely<any>: they describe the schema at one point in history and must
// not depend on today's table types.
/* eslint-disable @typescript-eslint/no-explicit-any */
export async function up(db: Kysely<any>): Promise<void> {
  const millis = 'bigint'

  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(128)', (c) => c.notNull())
    .addColumn('owner', 'varchar(128)', (c) => c.notNull())
    .addColumn('scopes', 'varchar(255)', (c) => c.notNull()) // JSON array
    .addColumn('key_hash', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('created_by', 'varchar(32)')
    .addColumn('created_at', millis, (c) => c.notNull())
    .addColumn('last_used_at', millis)
    .addColumn('revoked_at', millis)
    .execute()
  await db.schema
    .createIndex('api_keys_created_at')
    .on('api_keys')
    .columns(['created_at', 'id'])
    .execute()

  // Subjects of TOTP as a service belong to the owner (tenant) of the API key that made them;
  // the same username under two owners is two unrelated subjects.
  await db.schema
    .createTable('totp_subjects')
    .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('owner', 'varchar(128)', (c) => c.notNull())
    .addColumn('username', 'varchar(255)', (c) => c.notNull())
    .addColumn('secret_sealed', 'varchar(255)', (c) => c.notNull())
    .addColumn('last_step', millis)
    .addColumn('verified_at', millis)
    .addColumn('created_at', millis, (c) => c.notNull())
    .addUniqueConstraint('totp_subjects_owner_username', ['owner', 'username'])
    .execute()

  // Prices are integer cents: a decimal stored as a float drifts, and DECIMAL comes back as a
  // string from two of the three drivers.
  await db.schema
    .createTable('products')
    .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('price_cents', 'bigint', (c) => c.notNull())
    .addColumn('quantity', 'bigint', (c) => c.notNull())
    .addColumn('created_at', millis, (c) => c.notNull())
    .addColumn('updated_at', millis, (c) => c.notNull())
    .execute()
  await db.schema
    .createIndex('products_created_at')
    .on('products')
    .columns(['created_at', 'id'])
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('products').execute()
  await db.schema.dropTable('totp_subjects').execute()
  await db.schema.dropTable('api_keys').execute()
}
