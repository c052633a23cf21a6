import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { createDb } from '../../src/store/db.js'
import { migrateToLatest } from '../../src/store/migrate.js'
import { findUserById } from '../../src/store/repositories/users.js'
import { testDatabases } from '../support/databases.js'
import { useFreshDatabase } from '../support/harness.js'

/** Issue 15: the login path's queries are parsed and planned once per PostgreSQL connection. */
const postgres = (await testDatabases()).filter((d) => d.name === 'postgres')

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
