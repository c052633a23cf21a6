import { Migrator, PostgresAdapter, sql, type Migration, type MigrationProvider } from 'kysely'
import type { Db } from './db.js'
import * as foundation from './migrations/0001-foundation.js'
import * as admin from './migrations/0004-admin.js'

// A static list rather than a folder scan: it works the same from src/ under the test
// runner and from dist/ in production, and a migration can never be silently missed.
const migrations: Record<string, Migration> = {
  '0001-foundation': foundation,
  '0004-admin': admin,
}

const provider: MigrationProvider = { getMigrations: () => Promise.resolve(migrations) }

/**
 * Kysely's migrator asks "does kysely_migration exist?" across every schema of a PostgreSQL
 * database, so a second Gatehouse (or test suite) in another schema of the same database made
 * it skip creating its own tables and then fail. Naming our schema keeps the question ours.
 */
async function migrationTableSchema(db: Db): Promise<string | undefined> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return undefined
  const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(
    db,
  )
  return rows[0]?.schema ?? undefined
}

/** Applies every pending migration; returns the names applied. */
export async function migrateToLatest(db: Db): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider,
    migrationTableSchema: await migrationTableSchema(db),
  })
  const { error, results } = await migrator.migrateToLatest()
  if (error) throw error instanceof Error ? error : new Error('migration failed', { cause: error })
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}
