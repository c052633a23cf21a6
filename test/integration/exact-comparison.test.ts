import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMysqlDatabase, testDatabases, type TestDatabase } from '../support/databases.js'
import { startApp, type TestApp } from '../support/harness.js'
import { client } from '../support/http.js'
import { apiKey } from '../support/principals.js'

const databases = await testDatabases()

/**
 * A database as an operator might create it. CI creates MariaDB databases with utf8mb4_bin,
 * but `create database gatehouse` takes the server's default, a case- and trailing-space-
 * insensitive collation; the migrations must make exact columns binary themselves.
 */
async function defaultCollationDatabase(database: TestDatabase) {
  return database.name === 'mysql' ? createMysqlDatabase('utf8mb4_general_ci') : database.create()
}

/**
 * Issue 9 item 9: on MariaDB, TOTP-service subjects and owners were compared with the
 * default collation — `ALICE` collided with `alice`, `alice ` read alice's subject, an owner
 * `ACME` read and deleted owner `acme`'s subjects, and the per-subject guess limit (keyed by
 * the string as sent) gave 80 guesses instead of 10. SPEC §5: exact on every database.
 */
describe.each(databases)('exact comparison on $name', (database) => {
  let db: { url: string; drop: () => Promise<void> }
  let t: TestApp
  beforeAll(async () => {
    db = await defaultCollationDatabase(database)
    t = await startApp(db.url)
  })
  afterAll(async () => {
    await t.close()
    await db.drop()
  })

  const call = (method: 'GET' | 'POST' | 'DELETE', url: string, key: string, body?: unknown) =>
    client(t.app).call(method, url, { body, headers: { 'x-api-key': key } })

  it('keeps subjects and owners apart by case and trailing spaces', async () => {
    const acme = (await apiKey(t, ['totp'], 'acme')).key
    const upperAcme = (await apiKey(t, ['totp'], 'ACME')).key
    expect((await call('POST', '/api/totp/register', acme, { username: 'alice' })).status).toBe(201)
    // A different subject, not a conflict with alice.
    expect((await call('POST', '/api/totp/register', acme, { username: 'ALICE' })).status).toBe(201)
    expect((await call('GET', '/api/totp/alice%20', acme)).status).toBe(404)
    expect((await call('GET', '/api/totp/Alice', acme)).status).toBe(404)
    // Owner ACME is not owner acme: it neither reads nor deletes acme's subjects.
    expect((await call('GET', '/api/totp/alice', upperAcme)).status).toBe(404)
    expect((await call('DELETE', '/api/totp/alice', upperAcme)).status).toBe(404)
    expect((await call('GET', '/api/totp/alice', acme)).status).toBe(200)
  })

  it('gives one subject one guess budget, whatever spelling is sent', async () => {
    const key = (await apiKey(t, ['totp'], 'guess-owner')).key
    expect((await call('POST', '/api/totp/register', key, { username: 'bob' })).status).toBe(201)
    const statuses: number[] = []
    for (const name of ['bob', 'BOB', 'bob ', 'Bob']) {
      for (let i = 0; i < 4; i++) {
        const res = await call('POST', '/api/totp/verify', key, { username: name, otp: '000000' })
        statuses.push(res.status)
      }
    }
    // Ten wrong codes on bob, then throttled; the other spellings name no subject.
    expect(statuses.slice(0, 4)).toEqual([401, 401, 401, 401])
    expect(statuses.slice(4)).toEqual(Array(12).fill(404))
    const more = []
    for (let i = 0; i < 7; i++)
      more.push(
        (await call('POST', '/api/totp/verify', key, { username: 'bob', otp: '000000' })).status,
      )
    expect(more).toEqual([401, 401, 401, 401, 401, 401, 429])
  })

  it('compares role names exactly', async () => {
    await t.services.db
      .insertInto('roles')
      .values({ name: 'Auditor', permissions: '[]', created_at: 0 })
      .execute()
    const lower = await t.services.db
      .selectFrom('roles')
      .select('name')
      .where('name', '=', 'auditor')
      .execute()
    expect(lower).toEqual([])
    const spaced = await t.services.db
      .selectFrom('roles')
      .select('name')
      .where('name', '=', 'Auditor ')
      .execute()
    expect(spaced).toEqual([])
  })
})
