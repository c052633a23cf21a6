import type { Kysely } from 'kysely'

/**
 * Lockout state lives in the database, not in a rate limiter: it must survive restarts,
 * be shared by every instance even without Redis, and be liftable by `gatehouse user
 * unlock` running in another process.
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('login_lockouts')
    .addColumn('user_id', 'varchar(32)', (c) =>
      c.primaryKey().references('users.id').onDelete('cascade'),
    )
    // Consecutive failed logins (and attempts in flight); a completed login resets it.
    .addColumn('failures', 'integer', (c) => c.notNull())
    .addColumn('locked_until', 'bigint')
    // Bumped by every unlock: the per-username throttle keys include it, so an unlock
    // also lifts throttling on every instance, in memory or in Redis.
    .addColumn('generation', 'integer', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('login_lockouts').execute()
}
