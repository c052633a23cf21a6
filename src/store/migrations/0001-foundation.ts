import type { Kysely } from 'kysely'
import { autoIncrementId, isMysql } from './dialect-helpers.js'

// Migrations see Kysely<any>: they describe the schema at one point in history and must
// not depend on today's table types.
/* eslint-disable @typescript-eslint/no-explicit-any */
export async function up(db: Kysely<any>): Promise<void> {
  const millis = 'bigint'
  await db.schema
    .createTable('users')
    .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('username', 'varchar(64)', (c) => c.notNull())
    .addColumn('username_normalized', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('email', 'varchar(255)')
    .addColumn('email_normalized', 'varchar(255)', (c) => c.unique())
    .addColumn('email_verified_at', millis)
    .addColumn('phone', 'varchar(32)')
    .addColumn('phone_verified_at', millis)
    .addColumn('password_hash', 'varchar(255)')
    .addColumn('locked_at', millis)
    .addColumn('disabled_at', millis)
    .addColumn('created_at', millis, (c) => c.notNull())
    .addColumn('updated_at', millis, (c) => c.notNull())
    .execute()
  await db.schema
    .createIndex('users_created_at')
    .on('users')
    .columns(['created_at', 'id'])
    .execute()

  await db.schema
    .createTable('roles')
    .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('permissions', 'text', (c) => c.notNull())
    .addColumn('created_at', millis, (c) => c.notNull())
    .execute()

  await db.schema
    .createTable('user_roles')
    .addColumn('user_id', 'varchar(32)', (c) =>
      c.notNull().references('users.id').onDelete('cascade'),
    )
    .addColumn('role_name', 'varchar(64)', (c) =>
      c.notNull().references('roles.name').onDelete('cascade'),
    )
    .addPrimaryKeyConstraint('user_roles_pk', ['user_id', 'role_name'])
    .execute()

  await db.schema
    .createTable('sessions')
    .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('user_id', 'varchar(32)', (c) =>
      c.notNull().references('users.id').onDelete('cascade'),
    )
    .addColumn('amr', 'varchar(128)', (c) => c.notNull())
    .addColumn('created_at', millis, (c) => c.notNull())
    .addColumn('last_used_at', millis, (c) => c.notNull())
    .addColumn('ended_at', millis)
    .addColumn('end_reason', 'varchar(64)')
    .addColumn('ip', 'varchar(64)')
    .addColumn('user_agent', 'varchar(512)')
    .execute()
  await db.schema
    .createIndex('sessions_user')
    .on('sessions')
    .columns(['user_id', 'ended_at'])
    .execute()

  await db.schema
    .createTable('refresh_tokens')
    .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('session_id', 'varchar(32)', (c) =>
      c.notNull().references('sessions.id').onDelete('cascade'),
    )
    .addColumn('token_hash', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('created_at', millis, (c) => c.notNull())
    .addColumn('expires_at', millis, (c) => c.notNull())
    .addColumn('used_at', millis)
    .addColumn('successor_id', 'varchar(32)')
    .addColumn('successor_sealed', 'varchar(512)')
    .execute()
  await db.schema
    .createIndex('refresh_tokens_session')
    .on('refresh_tokens')
    .column('session_id')
    .execute()

  await db.schema
    .createTable('signing_keys')
    .addColumn('kid', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('alg', 'varchar(16)', (c) => c.notNull())
    .addColumn('public_jwk', 'text', (c) => c.notNull())
    .addColumn('private_key_sealed', 'text', (c) => c.notNull())
    .addColumn('created_at', millis, (c) => c.notNull())
    .execute()

  await db.schema
    .createTable('audit_events')
    .addColumn('id', autoIncrementId(db), (c) =>
      isMysql(db) ? c.primaryKey().autoIncrement() : c.primaryKey(),
    )
    .addColumn('time', millis, (c) => c.notNull())
    .addColumn('event', 'varchar(64)', (c) => c.notNull())
    .addColumn('outcome', 'varchar(16)', (c) => c.notNull())
    .addColumn('user_id', 'varchar(32)')
    .addColumn('username', 'varchar(255)')
    .addColumn('ip', 'varchar(64)')
    .addColumn('user_agent', 'varchar(512)')
    .addColumn('actor_id', 'varchar(32)')
    .addColumn('details', 'text')
    .execute()
  await db.schema
    .createIndex('audit_events_user')
    .on('audit_events')
    .columns(['user_id', 'id'])
    .execute()
  await db.schema
    .createIndex('audit_events_event')
    .on('audit_events')
    .columns(['event', 'id'])
    .execute()
  await db.schema.createIndex('audit_events_time').on('audit_events').column('time').execute()

  const now = Date.now()
  await db
    .insertInto('roles')
    .values([
      { name: 'admin', permissions: JSON.stringify(['*']), created_at: now },
      { name: 'user', permissions: JSON.stringify(['products:read']), created_at: now },
    ])
    .execute()
}
