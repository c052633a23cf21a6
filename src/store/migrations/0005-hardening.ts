import type { Kysely } from 'kysely'
import { isMysql, useExactCollation } from './dialect-helpers.js'

// Migrations see Kysely<any>: they describe the schema at one point in history and must
// not depend on today's table types.
/* eslint-disable @typescript-eslint/no-explicit-any */
export async function up(db: Kysely<any>): Promise<void> {
  // Keys Gatehouse makes for itself, sealed under GATEHOUSE_SECRET_KEY (re-sealed by
  // `secrets rotate`): today the key of the short-code hashes, which must outlive a rotation
  // of the secret key because a hash cannot be re-made without its code.
  await db.schema
    .createTable('app_secrets')
    .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('sealed', 'varchar(512)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute()

  // The sweep that erases spent successors after the grace period looks rows up by it.
  await db.schema
    .createIndex('refresh_tokens_used_at')
    .on('refresh_tokens')
    .column('used_at')
    .execute()

  if (isMysql(db)) await useExactCollation(db)
}
