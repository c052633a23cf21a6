import type { Compilable, CompiledQuery, DialectAdapter, QueryResult } from 'kysely'
import type { Db } from './db.js'

/**
 * A query whose shape never changes, built and compiled to SQL once instead of per call:
 * Kysely builds an immutable operation tree and compiles it on every execution (about 0.1 ms
 * of CPU per query, a fifth of a login's CPU beyond its hash before this). `build` receives
 * stand-ins for the named parameters; each call swaps in the real values, in the order the
 * compiled SQL binds them. The parameters must reach the SQL as bound values, unchanged
 * (a `where`/`values` value, not `sql.raw` or a value the builder transforms).
 *
 * On SQLite the SQL text is then also the key of the prepared-statement cache
 * (sqlite-statements.ts), so the statement is neither rebuilt nor re-prepared.
 */
export function precompiled<P extends object, R>(
  db: Db,
  keys: readonly (keyof P & string)[],
  build: (params: P) => Compilable<R>,
): (params: P) => Promise<R[]> {
  const run = compiledWith(keys, build)
  return async (params) => (await run(db, params)).rows
}

// The SQL of every query built here, each with a statement name. On PostgreSQL and MySQL
// these, and only these (a fixed set), run as prepared statements (db.ts).
const statementNames = new Map<string, string>()

/** The prepared-statement name of a precompiled query's SQL; undefined for any other SQL. */
export const preparedStatementName = (sql: string): string | undefined => statementNames.get(sql)

function compiledWith<P extends object, R>(
  keys: readonly (keyof P & string)[],
  build: (params: P) => Compilable<R>,
): (run: Db, params: P) => Promise<QueryResult<R>> {
  let compiled: { query: CompiledQuery<R>; slots: ((p: P) => unknown)[] } | undefined
  const compile = () => {
    // Unique strings no caller can pass, so each bound value is matched to its parameter.
    const standIns = Object.fromEntries(keys.map((k) => [k, `\u0000precompiled:${k}`])) as P
    const query = build(standIns).compile()
    const slots = query.parameters.map((value) => {
      const key = keys.find((k) => standIns[k] === value)
      return key === undefined ? () => value : (p: P) => p[key]
    })
    const missing = keys.filter((k) => !query.parameters.includes(standIns[k]))
    if (missing.length > 0) throw new Error(`precompiled: ${missing.join(', ')} not bound`)
    if (!statementNames.has(query.sql))
      statementNames.set(query.sql, `gatehouse_${statementNames.size + 1}`)
    return { query, slots }
  }
  return async (run, params) => {
    compiled ??= compile()
    const { query, slots } = compiled
    return run.executeQuery<R>({ ...query, parameters: slots.map((slot) => slot(params)) })
  }
}

/**
 * `precompiled` for repository functions that take the database (or a transaction) per call:
 * compiled once per dialect (the SQL depends on nothing else), run on the `db` given.
 */
export function precompiledFor<P extends object, R>(
  keys: readonly (keyof P & string)[],
  build: (db: Db, params: P) => Compilable<R>,
): (db: Db, params: P) => Promise<R[]> {
  const run = perDialect(keys, build)
  return async (db, params) => (await run(db, params)).rows
}

/**
 * `precompiledFor` for inserts, updates and deletes: resolves with how many rows the statement
 * affected (0 when the driver does not say). An insert must name the same columns every call.
 */
export function precompiledWrite<P extends object>(
  keys: readonly (keyof P & string)[],
  build: (db: Db, params: P) => Compilable<unknown>,
): (db: Db, params: P) => Promise<number> {
  const run = perDialect(keys, build)
  return async (db, params) => Number((await run(db, params)).numAffectedRows ?? 0)
}

function perDialect<P extends object, R>(
  keys: readonly (keyof P & string)[],
  build: (db: Db, params: P) => Compilable<R>,
): (db: Db, params: P) => Promise<QueryResult<R>> {
  // Keyed by the dialect's adapter, which a transaction shares with its database; tests run
  // SQLite, PostgreSQL and MySQL side by side in one process.
  const byDialect = new WeakMap<DialectAdapter, (run: Db, params: P) => Promise<QueryResult<R>>>()
  return (db, params) => {
    const adapter = db.getExecutor().adapter
    let query = byDialect.get(adapter)
    if (!query) {
      query = compiledWith(keys, (p) => build(db, p))
      byDialect.set(adapter, query)
    }
    return query(db, params)
  }
}
