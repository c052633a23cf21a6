import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { createDb, type Db } from '../../src/store/db.js'
import { migrateToLatest } from '../../src/store/migrate.js'
import { findUserById } from '../../src/store/repositories/users.js'
import { testDatabases } from '../support/databases.js'
import { useFreshDatabase } from '../support/harness.js'

/**
 * Issue 15: the login path's queries are parsed and planned once per PostgreSQL or MySQL
 * connection; any other SQL is not kept prepared.
 */
const databases = await testDatabases()
const postgres = databases.filter((d) => d.name === 'postgres')
const mysql = databases.filter((d) => d.name === 'mysql')

describe.each(postgres)('precompiled queries on $name', (database) => {
  const fresh = useFreshDatabase(database)

  it('run as one named prepared statement per query and connection; other SQL stays unnamed', async () => {
    const handle = createDb(fresh.url)
    try {
      await migrateToLatest(handle.db)
      await handle.db.connection().execute(async (conn) => {
        expect(await findUserById(conn, 'nobody')).toBeUndefined()
        expect(await findUserById(conn, 'still nobody')).toBeUndefined()
        await sql`select ${1}::int as one`.execute(conn)
        const { rows } = await sql<{
          name: string
          statement: string
        }>`select name, statement from pg_prepared_statements`.execute(conn)
        expect(rows).toHaveLength(1)
        expect(rows[0]!.name).toMatch(/^gatehouse_\d+$/)
        expect(rows[0]!.statement).toContain('from "users" where "id" = $1')
      })
    } finally {
      await handle.close()
    }
  })
})

/** This connection's counts of prepared-statement commands (the protocol's, not SQL PREPARE). */
async function statementCommands(conn: Db): Promise<{ prepare: number; execute: number }> {
  const { rows } = await sql<{
    Variable_name: string
    Value: string
  }>`show session status where Variable_name in ('Com_stmt_prepare', 'Com_stmt_execute')`.execute(
    conn,
  )
  const value = (name: string) => Number(rows.find((r) => r.Variable_name === name)?.Value)
  return { prepare: value('Com_stmt_prepare'), execute: value('Com_stmt_execute') }
}

describe.each(mysql)('precompiled queries on $name', (database) => {
  const fresh = useFreshDatabase(database)

  it('are prepared once per connection and executed with bound values; other SQL is not prepared', async () => {
    const handle = createDb(fresh.url)
    try {
      await migrateToLatest(handle.db)
      await handle.db.connection().execute(async (conn) => {
        const before = await statementCommands(conn)
        expect(await findUserById(conn, 'nobody')).toBeUndefined()
        expect(await findUserById(conn, "still nobody' or '1'='1")).toBeUndefined()
        await sql`select ${1} as one`.execute(conn)
        const after = await statementCommands(conn)
        expect(after.prepare - before.prepare).toBe(1)
        expect(after.execute - before.execute).toBe(2)
      })
    } finally {
      await handle.close()
    }
  })
})
