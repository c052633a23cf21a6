import Database from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Kysely, SqliteDialect, sql } from 'kysely'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { InlineLimitsPlugin } from '../../src/store/inline-limits.js'
import { cachingStatements } from '../../src/store/sqlite-statements.js'

interface Tables {
  t: { id: number; name: string }
}

describe('SQLite statement cache', () => {
  const open: Kysely<Tables>[] = []
  afterEach(async () => {
    for (const db of open.splice(0)) await db.destroy()
  })

  function setup(size?: number) {
    const raw = new Database(':memory:')
    const prepared: string[] = []
    const original = raw.prepare.bind(raw)
    raw.prepare = (text: string) => {
      prepared.push(text)
      return original(text)
    }
    const db = new Kysely<Tables>({
      dialect: new SqliteDialect({ database: cachingStatements(raw, size) }),
    })
    open.push(db)
    return { db, prepared }
  }

  it('prepares each SQL text once, for readers and writers alike', async () => {
    const { db, prepared } = setup()
    await sql`create table t (id integer primary key, name text not null)`.execute(db)
    for (let i = 1; i <= 3; i++) {
      const res = await db
        .insertInto('t')
        .values({ id: i, name: `n${i}` })
        .executeTakeFirst()
      expect(Number(res.numInsertedOrUpdatedRows)).toBe(1)
      const row = await db.selectFrom('t').selectAll().where('id', '=', i).executeTakeFirst()
      expect(row).toEqual({ id: i, name: `n${i}` })
    }
    const texts = prepared.filter((s) => !s.startsWith('create'))
    expect(texts).toHaveLength(2)
  })

  it('keeps transactions working, commit and rollback, with cached begin/commit', async () => {
    const { db } = setup()
    await sql`create table t (id integer primary key, name text not null)`.execute(db)
    for (let i = 0; i < 3; i++) {
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('t').values({ id: i, name: 'kept' }).execute()
      })
      await expect(
        db.transaction().execute(async (trx) => {
          await trx
            .insertInto('t')
            .values({ id: 100 + i, name: 'gone' })
            .execute()
          throw new Error('roll back')
        }),
      ).rejects.toThrow('roll back')
    }
    const rows = await db.selectFrom('t').select('name').execute()
    expect(rows.map((r) => r.name)).toEqual(['kept', 'kept', 'kept'])
  })

  it('takes the write lock when a transaction begins, so a writer in another process waits for it', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'gatehouse-begin-'))
    const file = join(folder, 'db.sqlite')
    const raw = new Database(file)
    raw.pragma('journal_mode = WAL')
    const db = new Kysely<Tables>({
      dialect: new SqliteDialect({ database: cachingStatements(raw) }),
    })
    open.push(db)
    await sql`create table t (id integer primary key, name text not null)`.execute(db)
    const other = new Database(file, { timeout: 0 })
    try {
      await db.transaction().execute(async (trx) => {
        await trx.selectFrom('t').selectAll().execute()
        // A deferred begin would let this commit land between the read above and the write
        // below, and the write would then fail with SQLITE_BUSY instead of waiting.
        expect(() => other.prepare("insert into t (name) values ('other')").run()).toThrow(
          /database is locked/,
        )
        await trx.insertInto('t').values({ id: 1, name: 'mine' }).execute()
      })
      other.prepare("insert into t (name) values ('other')").run()
      const rows = await db.selectFrom('t').select('name').orderBy('id').execute()
      expect(rows.map((r) => r.name)).toEqual(['mine', 'other'])
    } finally {
      other.close()
      rmSync(folder, { recursive: true, force: true })
    }
  })

  it('stays within its bound, evicting the least recently used text', async () => {
    const { db, prepared } = setup(2)
    await sql`create table t (id integer primary key, name text not null)`.execute(db)
    const q = (n: number) => sql`select ${sql.lit(n)} as n`.execute(db)
    await q(1)
    await q(2)
    await q(1) // 1 is now the most recent
    await q(3) // evicts 2
    await q(1)
    await q(2) // prepared again
    const counts = prepared.reduce<Record<string, number>>((acc, s) => {
      acc[s] = (acc[s] ?? 0) + 1
      return acc
    }, {})
    expect(counts['select 1 as n']).toBe(1)
    expect(counts['select 2 as n']).toBe(2)
  })

  it('prepares a fresh statement while the cached one is still iterating', async () => {
    const { db } = setup()
    await sql`create table t (id integer primary key, name text not null)`.execute(db)
    await db
      .insertInto('t')
      .values([
        { id: 1, name: 'a' },
        { id: 2, name: 'b' },
      ])
      .execute()
    const query = db.selectFrom('t').select('id').orderBy('id')
    await query.execute() // cached
    const seen: number[] = []
    for await (const row of query.stream()) {
      seen.push(row.id)
    }
    expect(seen).toEqual([1, 2])
    expect(await query.execute()).toEqual([{ id: 1 }, { id: 2 }])
  })
})

describe('InlineLimitsPlugin', () => {
  const db = new Kysely<Tables>({
    dialect: new SqliteDialect({ database: new Database(':memory:') }),
    plugins: [new InlineLimitsPlugin()],
  })
  afterAll(() => db.destroy())

  it('writes counts into the SQL, so SQLite does not re-plan the statement at every run', async () => {
    await sql`create table t (id integer primary key, name text not null)`.execute(db)
    await db
      .insertInto('t')
      .values([1, 2, 3, 4].map((id) => ({ id, name: `n${id}` })))
      .execute()
    const query = db.selectFrom('t').select('id').where('name', '!=', 'x').orderBy('id')
    const compiled = query.limit(2).offset(1).compile()
    expect(compiled.sql).toMatch(/limit 2 offset 1$/)
    expect(compiled.parameters).toEqual(['x'])
    expect(await query.limit(2).offset(1).execute()).toEqual([{ id: 2 }, { id: 3 }])
  })

  it('leaves anything but a plain count bound', () => {
    const base = db.selectFrom('t').select('id')
    for (const limit of [2.5, -1, Number.MAX_SAFE_INTEGER + 2]) {
      const compiled = base.limit(limit).compile()
      expect(compiled.sql).toMatch(/limit \?$/)
      expect(compiled.parameters).toEqual([limit])
    }
  })
})
