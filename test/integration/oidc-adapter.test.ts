import type { AdapterPayload } from 'oidc-provider'
import { describe, expect, it } from 'vitest'
import { createOidcAdapter } from '../../src/services/oidc/adapter.js'
import { createDb } from '../../src/store/db.js'
import { isDeadlock, retryOnDeadlock } from '../../src/store/errors.js'
import { migrateToLatest } from '../../src/store/migrate.js'
import { testDatabases } from '../support/databases.js'
import { useFreshDatabase } from '../support/harness.js'

/**
 * The provider saves and revokes several objects of one grant at once (Promise.all in its
 * token and revocation code). On MariaDB those concurrent deletes and inserts of neighbouring
 * rows deadlocked within the first few rounds, and the request failed with a 500.
 */
describe.each(await testDatabases())('the OpenID provider storage on $name', (database) => {
  const fresh = useFreshDatabase(database)

  it('saves and revokes the objects of many grants concurrently, as the provider does', async () => {
    const handle = createDb(fresh.url)
    try {
      await migrateToLatest(handle.db)
      const Adapter = createOidcAdapter({
        db: handle.db,
        clock: { now: () => new Date() },
        clients: { metadata: () => Promise.resolve(undefined) },
        log: { warn: (obj, msg) => console.warn(msg, obj) },
      })
      const models = ['AccessToken', 'RefreshToken', 'AuthorizationCode']
      const payload = (grantId?: string) =>
        ({ grantId, accountId: 'acct', clientId: 'client' }) as AdapterPayload
      for (let round = 0; round < 40; round++) {
        const grantId = `grant-${round}`
        await Promise.all([
          ...models.map((m) => new Adapter(m).upsert(`${m}-${round}`, payload(grantId), 600)),
          new Adapter('Grant').upsert(grantId, payload(), 600),
        ])
        // What the provider does with a reused refresh token: destroy it and revoke its grant.
        await Promise.all([
          new Adapter('RefreshToken').destroy(`RefreshToken-${round}`),
          ...models.map((m) => new Adapter(m).revokeByGrantId(grantId)),
          new Adapter('Grant').destroy(grantId),
        ])
      }
      const left = await handle.db.selectFrom('oidc_payloads').select('id').execute()
      expect(left).toEqual([])
    } finally {
      await handle.close()
    }
  })
})

describe('retryOnDeadlock', () => {
  const deadlock = Object.assign(new Error('Deadlock found'), { errno: 1213 })

  it('runs a deadlock victim again, and passes other errors through at once', async () => {
    let calls = 0
    const result = await retryOnDeadlock(() => {
      calls++
      return calls < 3 ? Promise.reject(deadlock) : Promise.resolve('done')
    })
    expect([result, calls]).toEqual(['done', 3])

    let other = 0
    const refused = new Error('duplicate')
    await expect(
      retryOnDeadlock(() => {
        other++
        return Promise.reject(refused)
      }),
    ).rejects.toBe(refused)
    expect(other).toBe(1)
  })

  it('gives up after its attempts, with the deadlock', async () => {
    let calls = 0
    await expect(
      retryOnDeadlock(() => {
        calls++
        return Promise.reject(deadlock)
      }, 4),
    ).rejects.toBe(deadlock)
    expect(calls).toBe(4)
  })

  it('knows each driver’s deadlock', () => {
    expect(isDeadlock({ code: '40P01' })).toBe(true)
    expect(isDeadlock({ code: 'ER_LOCK_DEADLOCK' })).toBe(true)
    expect(isDeadlock({ errno: 1213 })).toBe(true)
    expect(isDeadlock({ code: '23505' })).toBe(false)
    expect(isDeadlock(null)).toBe(false)
  })
})
