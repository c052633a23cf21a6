import type { Database as SqliteDatabase, Statement } from 'better-sqlite3'
import type { SqliteDatabase as KyselySqliteDatabase } from 'kysely'

/**
 * How many distinct statements stay prepared: well above the SQL texts the service runs
 * (about 300), so the hot ones never drop out; the bound only matters for texts that vary
 * with their input (`in (?, ?, …)` lists), which would otherwise grow the cache forever.
 */
export const STATEMENT_CACHE_SIZE = 500

/**
 * What a Kysely transaction begins with instead of its plain (deferred) `begin`. A deferred
 * transaction that reads and then writes fails at once with SQLITE_BUSY, without waiting out
 * `busy_timeout`, when another process (the CLI beside a running server) committed after its
 * first read: its snapshot can no longer become a write. Taking the write lock at `begin`
 * waits for the other writer instead. Within one process nothing changes: Kysely runs one
 * query at a time on the one connection.
 */
const BEGIN_WRITING = 'begin immediate'

/**
 * The database as Kysely's SqliteDialect sees it, with `prepare` answered from a bounded LRU
 * keyed by SQL text. Kysely prepares every query anew, and better-sqlite3's `prepare` (parse,
 * plan, allocate) cost about 1 ms of each login's CPU, more than all its statements' runs.
 *
 * Reuse is safe: a statement keeps no state between runs (parameters are bound per call, and
 * `reader` is fixed by the SQL), Kysely runs one query at a time on its one connection, so
 * `begin`/`commit` and the statements between them run in order as before, and SQLite
 * re-prepares a statement by itself after a schema change (migrations). The one thing a
 * statement cannot do is run while it is still iterating (a streamed query not yet drained):
 * then a fresh, uncached one is prepared.
 */
export function cachingStatements(
  database: SqliteDatabase,
  size = STATEMENT_CACHE_SIZE,
): KyselySqliteDatabase {
  const cache = new Map<string, Statement>()
  return {
    prepare(text: string) {
      const sql = text === 'begin' ? BEGIN_WRITING : text
      const cached = cache.get(sql)
      if (cached && !cached.busy) {
        // Re-inserted so the Map's order is least recently used first.
        cache.delete(sql)
        cache.set(sql, cached)
        return cached
      }
      const statement = database.prepare(sql)
      if (cached) return statement
      cache.set(sql, statement)
      if (cache.size > size) cache.delete(cache.keys().next().value!)
      return statement
    },
    close() {
      cache.clear()
      database.close()
    },
  }
}
