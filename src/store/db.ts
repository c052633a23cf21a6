import { existsSync, mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { Kysely, MysqlDialect, PostgresDialect, SqliteDialect, sql, type Dialect } from 'kysely'
import type Mysql from 'mysql2'
import type Pg from 'pg'
import { ConfigError } from '../config/errors.js'
import { withoutPassword } from '../config/redact.js'
import type { Database } from './tables.js'
import { preparedStatementName } from './precompiled.js'
import { InlineLimitsPlugin } from './inline-limits.js'
import { cachingStatements } from './sqlite-statements.js'

export type Db = Kysely<Database>
export type DialectName = 'sqlite' | 'postgres' | 'mysql'

export interface DbHandle {
  db: Db
  dialect: DialectName
  close: () => Promise<void>
}

// pg returns int8 as a string to protect values above 2^53; ours are epoch milliseconds
// and counters, far below that, so a number keeps all three dialects alike.
const INT8_OID = 20
const parseInt8 = (value: string) => Number(value)
const pgTypesOf = (pg: typeof Pg) => ({
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID
      ? parseInt8
      : (pg.types.getTypeParser(oid, format) as unknown)) as typeof pg.types.getTypeParser,
})

/** How long a connection attempt, and a PostgreSQL query, may take before it fails. */
export const CONNECT_TIMEOUT_MS = 5_000
export const QUERY_TIMEOUT_MS = 10_000

const ignoreConnectionError = () => undefined

export function dialectOf(url: string): DialectName {
  if (url.startsWith('sqlite:')) return 'sqlite'
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return 'postgres'
  if (url.startsWith('mysql://')) return 'mysql'
  throw new Error(`unsupported database URL scheme in ${url.split(':')[0] ?? ''}:`)
}

/** The URL as an operator should see it: the password masked, a SQLite path made absolute. */
export function describeDatabaseUrl(url: string): string {
  if (dialectOf(url) === 'sqlite') {
    const path = url.slice('sqlite:'.length)
    return path === ':memory:' ? url : `sqlite:${resolve(path)}`
  }
  return withoutPassword(url)
}

/**
 * Why a connection failed, on one line and without the URL's password (no driver is known to
 * echo it, but this line is printed). Node's connection errors to a name with several
 * addresses are AggregateErrors with an empty message and the reasons inside.
 */
function failureReason(err: unknown, url: string): string {
  const error =
    err instanceof Error ? (err as Error & { code?: unknown; errors?: unknown }) : undefined
  const inner = Array.isArray(error?.errors) ? (error.errors as unknown[])[0] : undefined
  const reason =
    error?.message.split('\n')[0] ||
    (inner instanceof Error ? inner.message : '') ||
    (typeof error?.code === 'string' ? error.code : '') ||
    'unknown error'
  const password = url.includes('://') ? new URL(url).password : ''
  return password === ''
    ? reason
    : reason.replaceAll(password, '***').replaceAll(decodeURIComponent(password), '***')
}

/**
 * Opens a connection and runs a trivial query, so that a database that is unreachable, refuses
 * us or cannot be opened stops start-up with one line naming DATABASE_URL and where it points
 * (password masked), rather than with the driver's bare `connect ECONNREFUSED 127.0.0.1:5432`.
 */
export async function checkDatabaseReachable(db: Db, url: string): Promise<void> {
  try {
    await sql`select 1`.execute(db)
  } catch (err) {
    throw new ConfigError(
      'DATABASE_URL',
      `${dialectOf(url) === 'sqlite' ? 'cannot open' : 'cannot connect to'} ` +
        `${describeDatabaseUrl(url)} (${failureReason(err, url)})`,
    )
  }
}

/** Whether the database answers a trivial query now (readiness). */
export function databaseStatus(db: Db): Promise<'ok' | 'unavailable'> {
  return sql`select 1`.execute(db).then(
    () => 'ok' as const,
    () => 'unavailable' as const,
  )
}

/** True when the SQLite file of `url` exists (or the URL names a server, which we cannot tell). */
export function sqliteFileExists(url: string): boolean {
  if (dialectOf(url) !== 'sqlite') return true
  const path = url.slice('sqlite:'.length)
  return path === ':memory:' || existsSync(path)
}

// Each driver is imported when its dialect is chosen (Kysely takes the database or pool as an
// async factory, called on the first query): a SQLite-only process never loads pg or mysql2,
// which would otherwise cost about 9 MiB of memory per process for nothing.
function createDialect(url: string, dialect: DialectName): Dialect {
  switch (dialect) {
    case 'sqlite':
      return new SqliteDialect({ database: () => openSqlite(url) })
    case 'postgres':
      return new PostgresDialect({ pool: () => openPostgres(url) })
    case 'mysql':
      return new MysqlDialect({ pool: () => openMysql(url) })
  }
}

async function openSqlite(url: string) {
  const { default: SqliteDatabase } = await import('better-sqlite3')
  const path = url.slice('sqlite:'.length)
  if (path !== ':memory:') makeFolders(dirname(path))
  const database = new SqliteDatabase(path)
  // WAL lets readers proceed during a write; busy_timeout makes a second process
  // (the CLI next to a running server) wait for the lock instead of failing.
  database.pragma('journal_mode = WAL')
  // SQLite's recommended pairing with WAL: commits no longer wait for an fsync each; the
  // database stays consistent, and only the last commits before a power cut (not a crash of
  // the process) can be lost.
  database.pragma('synchronous = NORMAL')
  database.pragma('busy_timeout = 5000')
  database.pragma('foreign_keys = ON')
  return cachingStatements(database)
}

/**
 * `mkdir -p`, one level at a time: Node's own recursive mkdirSync never returns where the
 * kernel answers ENOENT for a folder that exists but takes no new entries (under /proc), so a
 * mistyped DATABASE_URL hung start-up instead of failing with a message.
 */
function makeFolders(folder: string): void {
  const missing: string[] = []
  for (let f = resolve(folder); !existsSync(f); f = dirname(f)) {
    missing.unshift(f)
    if (dirname(f) === f) break
  }
  for (const f of missing) mkdirSync(f)
}

async function openPostgres(url: string) {
  const { default: pg } = await import('pg')
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    types: pgTypesOf(pg),
    // A database that does not answer must not hold requests: they fail (503) instead.
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS,
    keepAlive: true,
  })
  // pg emits 'error' on the pool for an idle client and on the client itself for one that
  // is checked out, when its connection drops (a failover, a network cut). With no
  // listener, Node ends the process. The query that meets the broken connection fails
  // (and is answered 503 unavailable), and the pool replaces the client.
  pool.on('error', ignoreConnectionError)
  pool.on('connect', (client) => {
    client.on('error', ignoreConnectionError)
    preparePrecompiled(client)
  })
  return pool
}

/**
 * Runs the queries built once (precompiled.ts: a login's) as named prepared statements, so
 * PostgreSQL parses and plans each once per connection instead of at every call. Only those:
 * any other SQL (an IN list of any length) would leave a statement on the connection for good.
 */
function preparePrecompiled(client: Pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown
  // Kysely's driver calls query(text, values); pg takes a name in the config-object form.
  // The cast restates pg's overloaded signature, which a wrapper cannot spell out.
  client.query = ((text: unknown, values?: unknown, ...rest: unknown[]) => {
    const name = typeof text === 'string' ? preparedStatementName(text) : undefined
    return name !== undefined && Array.isArray(values) && rest.length === 0
      ? query({ name, text, values })
      : query(text, values, ...rest)
  }) as Pg.PoolClient['query']
}

async function openMysql(url: string) {
  const { createPool } = await import('mysql2')
  const pool = createPool({
    uri: url,
    connectionLimit: 10,
    charset: 'utf8mb4',
    timezone: 'Z',
    connectTimeout: CONNECT_TIMEOUT_MS,
    enableKeepAlive: true,
  })
  pool.on('connection', (connection) => {
    readCommitted(connection)
    executePrecompiled(connection)
  })
  return pool
}

/**
 * Runs the connection's transactions at READ COMMITTED, PostgreSQL's default, which the
 * code is written for. InnoDB's default REPEATABLE READ adds gap locks to every delete and
 * update by range (`delete … where user_id = ?`), and those close deadlock cycles between
 * requests for different users: 32 replaces at once lost one now and then even after five
 * retries. READ COMMITTED locks only the rows a statement changes. The statement is queued
 * ahead of anything the pool hands the connection out for; if it fails, the connection is
 * broken and the first query on it fails too.
 */
function readCommitted(connection: Mysql.PoolConnection): void {
  connection.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED', ignoreConnectionError)
}

/**
 * Runs the queries built once (precompiled.ts: a login's) as server-side prepared statements
 * (mysql2's `execute`, which keeps each one prepared on its connection), so MySQL parses and
 * plans each once per connection instead of at every call, and the driver sends the values
 * instead of interpolating them into the text. Only those, as on PostgreSQL: every distinct
 * text would stay prepared, and the server allows a bounded number across all connections.
 */
function executePrecompiled(connection: Mysql.PoolConnection): void {
  const query = connection.query.bind(connection) as (...args: unknown[]) => unknown
  const execute = connection.execute.bind(connection) as (...args: unknown[]) => unknown
  // Kysely's driver calls query(sql, values, callback); the cast restates mysql2's overloaded
  // signature, which a wrapper cannot spell out.
  connection.query = ((sql: unknown, values?: unknown, ...rest: unknown[]) =>
    typeof sql === 'string' && preparedStatementName(sql) !== undefined && Array.isArray(values)
      ? execute(sql, values, ...rest)
      : query(sql, values, ...rest)) as Mysql.PoolConnection['query']
}

export function createDb(url: string): DbHandle {
  const dialect = dialectOf(url)
  const db = new Kysely<Database>({
    dialect: createDialect(url, dialect),
    plugins: [new InlineLimitsPlugin()],
  })
  return { db, dialect, close: () => db.destroy() }
}
