import { sql, type ColumnDefinitionBuilder, type Kysely } from 'kysely'
import { isMysql } from './dialect-helpers.js'

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations work on Kysely<any> */
export async function up(db: Kysely<any>): Promise<void> {
  const millis = 'bigint'
  // oidc-provider's ids (nanoid) and ours (base64url) differ only by letter case at times;
  // MariaDB's default collation would make two of them equal.
  const exact = (c: ColumnDefinitionBuilder) =>
    isMysql(db) ? c.modifyEnd(sql`collate utf8mb4_bin`) : c

  // Clients registered by an admin (SPEC §4.12). The secret is kept only as a SHA-256 hash:
  // it is 256 random bits, so a bare hash cannot be reversed.
  await db.schema
    .createTable('oidc_clients')
    .addColumn('id', 'varchar(64)', (c) => exact(c.primaryKey()))
    .addColumn('name', 'varchar(128)', (c) => c.notNull())
    .addColumn('type', 'varchar(16)', (c) => c.notNull())
    .addColumn('secret_hash', 'varchar(64)')
    .addColumn('metadata', 'text', (c) => c.notNull()) // JSON: redirect URIs, scopes, resources…
    .addColumn('created_by', 'varchar(32)')
    .addColumn('created_at', millis, (c) => c.notNull())
    .addColumn('updated_at', millis, (c) => c.notNull())
    .execute()
  await db.schema
    .createIndex('oidc_clients_created_at')
    .on('oidc_clients')
    .columns(['created_at', 'id'])
    .execute()

  // Everything oidc-provider stores (sessions, interactions, grants, codes, tokens), one row
  // per model and id. The columns beside `payload` are the ones the adapter looks rows up by.
  await db.schema
    .createTable('oidc_payloads')
    .addColumn('model', 'varchar(64)', (c) => c.notNull())
    .addColumn('id', 'varchar(255)', (c) => exact(c.notNull()))
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('grant_id', 'varchar(255)', exact)
    .addColumn('uid', 'varchar(255)', exact)
    .addColumn('user_code', 'varchar(255)', exact)
    .addColumn('session_uid', 'varchar(255)', exact)
    .addColumn('account_id', 'varchar(64)', exact)
    .addColumn('client_id', 'varchar(64)', exact)
    .addColumn('expires_at', millis)
    .addColumn('consumed_at', millis)
    .addPrimaryKeyConstraint('oidc_payloads_pk', ['model', 'id'])
    .execute()
  for (const column of ['grant_id', 'uid', 'user_code', 'session_uid', 'account_id', 'expires_at'])
    await db.schema
      .createIndex(`oidc_payloads_${column}`)
      .on('oidc_payloads')
      .column(column)
      .execute()

  // Consents remembered per person and client (SPEC §4.12). oidc-provider's grants also group
  // the tokens of one sign-in and die with it (logout, reuse detection); a consent outlives them.
  await db.schema
    .createTable('oidc_consents')
    .addColumn('account_id', 'varchar(32)', (c) => exact(c.notNull()))
    .addColumn('client_id', 'varchar(64)', (c) => exact(c.notNull()))
    .addColumn('scopes', 'text', (c) => c.notNull()) // space-separated OIDC scopes
    .addColumn('resources', 'text', (c) => c.notNull()) // JSON {resource: "scope scope"}
    .addColumn('created_at', millis, (c) => c.notNull())
    .addColumn('updated_at', millis, (c) => c.notNull())
    .addPrimaryKeyConstraint('oidc_consents_pk', ['account_id', 'client_id'])
    .execute()

  // Which Gatehouse session signed a person into which provider session, so that ending the
  // Gatehouse session ends the provider session and the tokens issued under it.
  await db.schema
    .createTable('oidc_session_links')
    .addColumn('session_uid', 'varchar(255)', (c) => exact(c.notNull()))
    .addColumn('gatehouse_session_id', 'varchar(32)', (c) => exact(c.notNull()))
    .addColumn('created_at', millis, (c) => c.notNull())
    .addPrimaryKeyConstraint('oidc_session_links_pk', ['session_uid', 'gatehouse_session_id'])
    .execute()
  await db.schema
    .createIndex('oidc_session_links_gatehouse')
    .on('oidc_session_links')
    .column('gatehouse_session_id')
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('oidc_session_links').execute()
  await db.schema.dropTable('oidc_consents').execute()
  await db.schema.dropTable('oidc_payloads').execute()
  await db.schema.dropTable('oidc_clients').execute()
}
