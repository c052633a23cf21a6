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
  const { rows: tables } = await sql<{ name: string }>`
    select table_name as name from information_schema.tables
    where table_schema = database() and table_type = 'BASE TABLE'`.execute(db)
  // MariaDB refuses to change the collation of a column in a foreign key (even with
  // foreign_key_checks off), so the keys are dropped, the tables converted, the keys re-made.
  const { rows: keys } = await sql<{
    name: string
    tbl: string
    col: string
    ref_tbl: string
    ref_col: string
    on_delete: string
  }>`
    select k.constraint_name as name, k.table_name as tbl, k.column_name as col,
      k.referenced_table_name as ref_tbl, k.referenced_column_name as ref_col,
      r.delete_rule as on_delete
    from information_schema.key_column_usage k
    join information_schema.referential_constraints r
      on r.constraint_schema = k.constraint_schema and r.constraint_name = k.constraint_name
    where k.table_schema = database() and k.referenced_table_name is not null`.execute(db)
  for (const k of keys)
    await sql`alter table ${sql.id(k.tbl)} drop foreign key ${sql.id(k.name)}`.execute(db)
  // A binary collation that also minds trailing spaces: utf8mb4_bin pads ('alice ' =
  // 'alice'); MariaDB's nopad_bin and MySQL 8's 0900_bin do not.
  const { rows: version } = await sql<{ v: string }>`select version() as v`.execute(db)
  const collation = sql.raw(
    /mariadb/i.test(version[0]?.v ?? '') ? 'utf8mb4_nopad_bin' : 'utf8mb4_0900_bin',
  )
  for (const { name } of tables) {
    await sql`alter table ${sql.id(name)} convert to character set utf8mb4 collate ${collation}`.execute(
      db,
    )
  }
  for (const k of keys) {
    const onDelete = sql.raw(
      k.on_delete === 'CASCADE' ? 'cascade' : k.on_delete === 'SET NULL' ? 'set null' : 'restrict',
    )
    await sql`alter table ${sql.id(k.tbl)} add constraint ${sql.id(k.name)}
      foreign key (${sql.id(k.col)}) references ${sql.id(k.ref_tbl)} (${sql.id(k.ref_col)})
      on delete ${onDelete}`.execute(db)
  }
}
