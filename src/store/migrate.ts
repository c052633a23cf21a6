import { Migrator, type Migration, type MigrationProvider } from 'kysely'
import type { Db } from './db.js'
import * as foundation from './migrations/0001-foundation.js'
import * as secondFactors from './migrations/0002-second-factors.js'

// A static list rather than a folder scan: it works the same from src/ under the test
// runner and from dist/ in production, and a migration can never be silently missed.
const migrations: Record<string, Migration> = {
  '0001-foundation': foundation,
  '0002-second-factors': secondFactors,
}

const provider: MigrationProvider = { getMigrations: () => Promise.resolve(migrations) }

/** Applies every pending migration; returns the names applied. */
export async function migrateToLatest(db: Db): Promise<string[]> {
  const migrator = new Migrator({ db, provider })
  const { error, results } = await migrator.migrateToLatest()
  if (error) throw error instanceof Error ? error : new Error('migration failed', { cause: error })
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}
