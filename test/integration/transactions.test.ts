import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDb, type Db, type DbHandle } from '../../src/store/db.js'
import { migrateToLatest } from '../../src/store/migrate.js'
import { afterCommit, inTransaction } from '../../src/store/transactions.js'
import { testDatabases } from '../support/databases.js'
import { useFreshDatabase } from '../support/harness.js'

const databases = await testDatabases()

/**
 * What follows a commit (the gate hearing that sessions ended, the audit sealer's cue) runs
 * only once the writes it follows are in the database, and never for writes rolled back.
 */
describe.each(databases)('afterCommit on $name', (database) => {
  const fresh = useFreshDatabase(database)
  let handle: DbHandle
  beforeAll(async () => {
    handle = createDb(fresh.url)
    await migrateToLatest(handle.db)
  })
  afterAll(() => handle.close())

  const roleCount = async (name: string) =>
    (await handle.db.selectFrom('roles').select('name').where('name', '=', name).execute()).length

  it('runs a hook after the commit, when a reader outside the transaction sees its writes', async () => {
    const seen: number[] = []
    await inTransaction(handle.db, async (trx) => {
      await trx
        .insertInto('roles')
        .values({ name: 'after-commit', permissions: '[]', created_at: 1 })
        .execute()
      afterCommit(trx, () => seen.push(-1))
      // Joins the outer transaction: its hook waits for the outer commit too.
      await inTransaction(trx, async (inner) => {
        afterCommit(inner, () => seen.push(-2))
      })
      expect(seen).toEqual([])
    })
    expect(seen).toEqual([-1, -2])
    expect(await roleCount('after-commit')).toBe(1)
  })

  it('never runs the hooks of a transaction that rolled back', async () => {
    let ran = false
    await expect(
      inTransaction(handle.db, async (trx) => {
        await trx
          .insertInto('roles')
          .values({ name: 'rolled-back', permissions: '[]', created_at: 1 })
          .execute()
        afterCommit(trx, () => (ran = true))
        throw new Error('refused half way')
      }),
    ).rejects.toThrow('refused half way')
    expect(ran).toBe(false)
    expect(await roleCount('rolled-back')).toBe(0)
  })

  it("runs only the committed attempt's hooks when a deadlock's victim is run again", async () => {
    const hooks: number[] = []
    let attempt = 0
    await inTransaction(handle.db, async (trx) => {
      const mine = ++attempt
      afterCommit(trx, () => hooks.push(mine))
      // The shape of PostgreSQL's deadlock_detected: the database rolled this attempt back.
      if (attempt === 1) throw Object.assign(new Error('deadlock detected'), { code: '40P01' })
    })
    expect(hooks).toEqual([2])
  })

  it('runs a hook at once after a write outside any transaction (it has committed)', () => {
    let ran = false
    afterCommit(handle.db, () => (ran = true))
    expect(ran).toBe(true)
  })

  it('runs every hook when one throws, then reports the error', async () => {
    const ran: string[] = []
    await expect(
      inTransaction(handle.db, async (trx) => {
        afterCommit(trx, () => {
          throw new Error('a hook with a bug')
        })
        afterCommit(trx, () => ran.push('gate told'))
      }),
    ).rejects.toThrow('a hook with a bug')
    expect(ran).toEqual(['gate told'])
  })

  it('refuses a hook handed over after the work has returned, instead of dropping it', async () => {
    let late: Db | undefined
    await inTransaction(handle.db, async (trx) => {
      late = trx
    })
    expect(() => afterCommit(late!, () => undefined)).toThrow(/not inside the work/)
  })
})
