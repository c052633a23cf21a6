import { sql, type Kysely } from 'kysely'
import { isMysql } from './dialect-helpers.js'

/**
 * SPEC §4.14: every audit row is sealed into a SHA-256 chain. Rows are written unsealed
 * (`hash` null) so no request waits for the chain; a sealer seals them in id order under
 * the lock of the single `audit_chain` row, which also remembers the chain's head so a
 * truncated tail is noticed too.
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('audit_events').addColumn('hash', 'varchar(64)').execute()
  // The sealer looks for unsealed rows on every pass: a partial index keeps that a seek on
  // PostgreSQL and SQLite; MySQL has no partial indexes, and its B-tree finds NULLs too.
  const index = db.schema.createIndex('audit_events_unsealed').on('audit_events')
  if (isMysql(db)) await index.column('hash').execute()
  else await index.column('id').where(sql.ref('hash'), 'is', null).execute()

  await db.schema
    .createTable('audit_chain')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('last_id', 'bigint', (c) => c.notNull())
    .addColumn('last_hash', 'varchar(64)', (c) => c.notNull())
    .addColumn('sealed_at', 'bigint', (c) => c.notNull())
    .execute()
  await db
    .insertInto('audit_chain')
    .values({ id: 1, last_id: 0, last_hash: '0'.repeat(64), sealed_at: 0 })
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('audit_chain').execute()
  await db.schema.dropIndex('audit_events_unsealed').on('audit_events').execute()
  await db.schema.alterTable('audit_events').dropColumn('hash').execute()
}
