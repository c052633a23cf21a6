import { sql, type Kysely } from 'kysely'
import { isMysql } from './dialect-helpers.js'

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

  if (isMysql(db)) await binaryCollation(db)
}

/**
 * SPEC §5: everything but usernames and emails (which the code lower-cases into their
 * `*_normalized` columns) is compared exactly — TOTP subjects, API key owners, role names,
 * ids, hashes. MySQL/MariaDB's default collations ignore letter case and trailing spaces
 * (`ALICE` = `alice ` = `alice`), and a database created without `utf8mb4_bin` hands that
 * to every column, so every table is converted explicitly; tables created later name it
 * themselves.
 */
async function binaryCollation(db: Kysely<any>): Promise<void> {
  await db.connection().execute(async (conn) => {
    const { rows } = await sql<{ name: string }>`
      select table_name as name from information_schema.tables
      where table_schema = database() and table_type = 'BASE TABLE'`.execute(conn)
    // Columns in foreign keys (user_roles.role_name → roles.name) change together; the
    // checks are off only on this connection, for these statements.
    await sql`set foreign_key_checks = 0`.execute(conn)
    try {
      for (const { name } of rows) {
        await sql`alter table ${sql.id(name)} convert to character set utf8mb4 collate utf8mb4_bin`.execute(
          conn,
        )
      }
    } finally {
      await sql`set foreign_key_checks = 1`.execute(conn)
    }
  })
}
