import Database from 'better-sqlite3'
import { Kysely, SqliteDialect, sql } from 'kysely'
import { afterEach, describe, expect, it } from 'vitest'
import type { Db } from '../../src/store/db.js'
import { precompiled, precompiledFor, precompiledWrite } from '../../src/store/precompiled.js'

describe('precompiled queries', () => {
  const open: Db[] = []
  afterEach(async () => {
    for (const db of open.splice(0)) await db.destroy()
  })

  async function setup(): Promise<Db> {
    const db = new Kysely({
      dialect: new SqliteDialect({ database: new Database(':memory:') }),
    }) as unknown as Db // the helper needs only a Kysely; the schema is this test's own
    open.push(db)
    await sql`create table users (id text primary key, username_normalized text, email_normalized text, created_at integer)`.execute(
      db,
    )
    await sql`insert into users values ('u1', 'alice', 'a@x.test', 1), ('u2', 'bob', 'b@x.test', 2)`.execute(
      db,
    )
    return db
  }

  it('binds each call’s values where the stand-ins were, constants kept, a parameter used twice', async () => {
    const db = await setup()
    let builds = 0
    const find = precompiled(db, ['identifier'], ({ identifier }: { identifier: string }) => {
      builds++
      return db
        .selectFrom('users')
        .select('id')
        .where((eb) =>
          eb.or([
            eb('username_normalized', '=', identifier),
            eb('email_normalized', '=', identifier),
          ]),
        )
        .where('created_at', '>', 0)
        .limit(1)
    })
    expect(await find({ identifier: 'alice' })).toEqual([{ id: 'u1' }])
    expect(await find({ identifier: 'b@x.test' })).toEqual([{ id: 'u2' }])
    expect(await find({ identifier: 'nobody' })).toEqual([])
    expect(builds).toBe(1)
  })

  it('runs a repository query on the database or transaction it is given', async () => {
    const db = await setup()
    const byId = precompiledFor(['id'], (d, { id }: { id: string }) =>
      d.selectFrom('users').select('username_normalized').where('id', '=', id),
    )
    expect(await byId(db, { id: 'u2' })).toEqual([{ username_normalized: 'bob' }])
    await db.transaction().execute(async (trx) => {
      await sql`update users set username_normalized = 'robert' where id = 'u2'`.execute(trx)
      expect(await byId(trx, { id: 'u2' })).toEqual([{ username_normalized: 'robert' }])
    })
  })

  it('runs a write and answers how many rows it changed', async () => {
    const db = await setup()
    const rename = precompiledWrite(['from', 'to'], (d, p: { from: string; to: string }) =>
      d
        .updateTable('users')
        .set({ username_normalized: p.to })
        .where('username_normalized', '=', p.from),
    )
    expect(await rename(db, { from: 'alice', to: 'alicia' })).toBe(1)
    expect(await rename(db, { from: 'alice', to: 'alicia' })).toBe(0)
    const names = await sql<{
      n: string
    }>`select username_normalized as n from users order by id`.execute(db)
    expect(names.rows.map((r) => r.n)).toEqual(['alicia', 'bob'])
  })

  it('refuses a parameter that does not reach the SQL as a bound value', async () => {
    const db = await setup()
    const broken = precompiled(db, ['id'], () => db.selectFrom('users').select('id'))
    await expect(broken({ id: 'u1' })).rejects.toThrow('id not bound')
  })
})
