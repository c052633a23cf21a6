import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createPool as createMysqlPool } from 'mysql2/promise'
import pg from 'pg'

/**
 * The databases every integration suite runs on. SQLite is always there; PostgreSQL and
 * MariaDB come from TEST_POSTGRES_URL / TEST_MYSQL_URL (defaulting to this machine's
 * servers). CI sets TEST_REQUIRE_ALL_DATABASES=1, and then a missing server fails the run
 * instead of being left out with a warning.
 */
export interface TestDatabase {
  name: 'sqlite' | 'postgres' | 'mysql'
  /** Creates a fresh, empty database (or schema) and returns its URL and a cleanup. */
  create(): Promise<{ url: string; drop: () => Promise<void> }>
}

const postgresUrl = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const mysqlUrl = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'
const requireAll = process.env.TEST_REQUIRE_ALL_DATABASES === '1'

const freshName = () => `gh_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`

const sqlite: TestDatabase = {
  name: 'sqlite',
  async create() {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-test-'))
    return {
      url: `sqlite:${join(dir, 'test.db')}`,
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    }
  },
}

/** Every schema this run creates starts with this, so the run's teardown can drop them all. */
export function postgresRunPrefix(): string {
  return `gh_${process.env.GH_TEST_RUN ?? 'adhoc'}_`
}

const postgres: TestDatabase = {
  name: 'postgres',
  async create() {
    // A schema per suite in the shared database: cheaper than CREATE DATABASE, just as isolated.
    const schema = `${postgresRunPrefix()}${randomBytes(4).toString('hex')}`
    const admin = new pg.Client({ connectionString: postgresUrl })
    await admin.connect()
    await admin.query(`create schema ${schema}`)
    await admin.end()
    const url = new URL(postgresUrl)
    url.searchParams.set('options', `-c search_path=${schema}`)
    return {
      url: url.toString(),
      // Dropped by the run's teardown (test/support/global-setup.ts), not here: Kysely's
      // migrator reads the catalogue of every schema, and a schema vanishing under another
      // suite's migration makes that suite fail.
      drop: () => Promise.resolve(),
    }
  },
}

/** Drops every schema this run created (called once, after all suites). */
export async function dropRunSchemas(): Promise<void> {
  const c = new pg.Client({ connectionString: postgresUrl })
  try {
    await c.connect()
    const { rows } = await c.query<{ name: string }>(
      'select nspname as name from pg_namespace where starts_with(nspname, $1)',
      [postgresRunPrefix()],
    )
    for (const { name } of rows) await c.query(`drop schema ${name} cascade`)
  } catch {
    // PostgreSQL unreachable: nothing was created there.
  } finally {
    await c.end().catch(() => undefined)
  }
}

/**
 * A fresh MariaDB/MySQL database with this default collation. The suites get `utf8mb4_bin`;
 * exact-comparison.test.ts also asks for the server's case-insensitive default, as an
 * operator's `create database` would make it.
 */
export async function createMysqlDatabase(
  collation = 'utf8mb4_bin',
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = freshName()
  const admin = createMysqlPool({ uri: mysqlUrl, connectionLimit: 1 })
  await admin.query(`create database ${name} character set utf8mb4 collate ${collation}`)
  await admin.end()
  const url = new URL(mysqlUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    async drop() {
      const c = createMysqlPool({ uri: mysqlUrl, connectionLimit: 1 })
      await c.query(`drop database ${name}`)
      await c.end()
    },
  }
}

const mysql: TestDatabase = {
  name: 'mysql',
  create: () => createMysqlDatabase(),
}

async function reachable(db: TestDatabase): Promise<boolean> {
  try {
    const { drop } = await db.create()
    await drop()
    return true
  } catch (err) {
    const message = `${db.name} is unreachable (${err instanceof Error ? err.message : String(err)})`
    if (requireAll) throw new Error(`${message}; TEST_REQUIRE_ALL_DATABASES=1 needs it`)
    console.warn(`\n!!! ${message}: its integration tests are LEFT OUT of this run !!!\n`)
    return false
  }
}

let available: Promise<TestDatabase[]> | undefined

/** The databases to run on; resolved once per test file. */
export function testDatabases(): Promise<TestDatabase[]> {
  available ??= (async () => {
    const servers = await Promise.all(
      [postgres, mysql].map(async (d) => ((await reachable(d)) ? d : undefined)),
    )
    return [sqlite, ...servers.filter((d): d is TestDatabase => d !== undefined)]
  })()
  return available
}
