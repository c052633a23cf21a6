import { Migrator, PostgresAdapter, sql, type Migration, type MigrationProvider } from 'kysely'
import type { Db } from './db.js'
import * as foundation from './migrations/0001-foundation.js'
import * as secondFactors from './migrations/0002-second-factors.js'
import * as abuse from './migrations/0003-abuse.js'
import * as admin from './migrations/0004-admin.js'
import * as hardening from './migrations/0005-hardening.js'
import * as passkeys from './migrations/0012-passkeys.js'
import * as oidc from './migrations/0013-oidc.js'
import * as auditChain from './migrations/0014-audit-chain.js'
import * as notifications from './migrations/0014-notifications.js'
import * as exactCollation from './migrations/0015-exact-collation.js'
import * as oidcHashedIds from './migrations/0016-oidc-hashed-ids.js'
import * as notMeScope from './migrations/0017-not-me-scope.js'
import * as compromiseResolved from './migrations/0018-compromise-resolved.js'
import * as mfaCheckHold from './migrations/0019-mfa-check-hold.js'

// A static list rather than a folder scan: it works the same from src/ under the test
// runner and from dist/ in production, and a migration can never be silently missed.
const migrations: Record<string, Migration> = {
  '0001-foundation': foundation,
  '0002-second-factors': secondFactors,
  '0003-abuse': abuse,
  '0004-admin': admin,
  '0005-hardening': hardening,
  '0012-passkeys': passkeys,
  '0013-oidc': oidc,
  '0014-audit-chain': auditChain,
  '0014-notifications': notifications,
  '0015-exact-collation': exactCollation,
  '0016-oidc-hashed-ids': oidcHashedIds,
  '0017-not-me-scope': notMeScope,
  '0018-compromise-resolved': compromiseResolved,
  '0019-mfa-check-hold': mfaCheckHold,
}

const provider: MigrationProvider = { getMigrations: () => Promise.resolve(migrations) }

/**
 * Kysely looks for its bookkeeping tables in every schema it can see; with a search_path that
 * names one schema among several (one database shared by several deployments), it would
 * find another deployment's tables. Naming our schema keeps it to ours.
 */
async function postgresSchema(db: Db): Promise<string | undefined> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return undefined
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db)
  return rows[0]?.schema
}

/** Applies every pending migration; returns the names applied. */
export async function migrateToLatest(db: Db): Promise<string[]> {
  const migrator = new Migrator({ db, provider, migrationTableSchema: await postgresSchema(db) })
  const { error, results } = await migrator.migrateToLatest()
  if (error) throw error instanceof Error ? error : new Error('migration failed', { cause: error })
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}

/** How many of our migrations this database has had: 0 means it holds no Gatehouse schema. */
export async function appliedMigrationCount(db: Db): Promise<number> {
  const migrator = new Migrator({ db, provider, migrationTableSchema: await postgresSchema(db) })
  // getMigrations only reads: it neither creates the bookkeeping tables nor takes their lock.
  const all = await migrator.getMigrations()
  return all.filter((m) => m.executedAt !== undefined).length
}
