import { connect, type AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { testDatabases } from '../support/databases.js'
import { startApp, useFreshDatabase, type TestApp } from '../support/harness.js'
import { client, STRONG_PASSWORD } from '../support/http.js'

/**
 * Logins beyond what the cores can hash wait in a line (one hash at a time here). A hash
 * that takes long enough (19 MiB, 60 passes: most of a second) to look at the line while it
 * runs; what is looked at is /metrics, so nothing here depends on how long anything takes.
 */
const oneSlowHashAtATime = { memoryKiB: 19456, timeCost: 60, parallelism: 1, concurrency: 1 }

const databases = await testDatabases()

async function hashes(t: TestApp): Promise<Record<string, number>> {
  const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body
  const figures: Record<string, number> = {}
  for (const [, name, value] of text.matchAll(
    /^gatehouse_password_hashes(?:_refused_total)?\{(?:state|reason)="(\w+)"\} (\d+)$/gm,
  ))
    figures[name!] = Number(value)
  return figures
}

async function until(t: TestApp, holds: (figures: Record<string, number>) => boolean) {
  for (let i = 0; i < 2_000; i++) {
    if (holds(await hashes(t))) return
    await sleep(5)
  }
  throw new Error(`the hasher never got there: ${JSON.stringify(await hashes(t))}`)
}

/** A refused or abandoned hash is logged at info, and nothing at error level. */
function expectLoadNotBugs(logs: string[]) {
  expect(logs.filter((line) => line.includes('"level":50'))).toEqual([])
  const refusals = logs.filter((line) => line.includes('password not hashed'))
  expect(refusals.length).toBeGreaterThan(0)
  for (const line of refusals) expect(line).toContain('"level":30')
}

async function failedLogins(t: TestApp): Promise<number> {
  const rows = await t.services.db
    .selectFrom('audit_events')
    .select('id')
    .where('event', '=', 'login_failed')
    .execute()
  return rows.length
}

describe('logins waiting for the password hasher', () => {
  const fresh = useFreshDatabase(databases[0]!)

  it('are answered 503 unavailable at once when the line is full, and nothing is counted or kept', async () => {
    const t = await startApp(fresh.url, { hashing: { ...oneSlowHashAtATime, maxWaiting: 0 } })
    try {
      const api = client(t.app)
      expect(
        (await api.post('/api/auth/register', { username: 'first', password: STRONG_PASSWORD }))
          .status,
      ).toBe(201)
      const first = api.post('/api/auth/login', { username: 'first', password: STRONG_PASSWORD })
      await until(t, (h) => h.running === 1)

      const refused = await api.post('/api/auth/login', {
        username: 'first',
        password: 'wrong password!!',
      })
      expect(refused.status).toBe(503)
      expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/)
      expect(refused.body.code).toBe('unavailable')
      expect(refused.headers['retry-after']).toBe('1')
      // A registration hashes in the same line: refused alike, and no account half made.
      const register = { username: 'later', password: STRONG_PASSWORD }
      expect((await api.post('/api/auth/register', register)).status).toBe(503)

      expect((await first).status).toBe(200)
      expect(await hashes(t)).toMatchObject({ running: 0, waiting: 0, busy: 2, abandoned: 0 })
      expect((await api.post('/api/auth/register', register)).status).toBe(201)
      // The refused guess was never checked, so it is no failure either.
      expect(await failedLogins(t)).toBe(0)
      expectLoadNotBugs(t.logs)
    } finally {
      await t.close()
    }
  })

  it('drop a login whose client hung up while it waited, without checking its password', async () => {
    const t = await startApp(fresh.url, { hashing: oneSlowHashAtATime })
    try {
      const api = client(t.app)
      expect(
        (await api.post('/api/auth/register', { username: 'second', password: STRONG_PASSWORD }))
          .status,
      ).toBe(201)
      await t.app.listen({ host: '127.0.0.1', port: 0 })
      const { port } = t.app.server.address() as AddressInfo

      const first = api.post('/api/auth/login', { username: 'second', password: STRONG_PASSWORD })
      await until(t, (h) => h.running === 1)

      const body = JSON.stringify({ username: 'second', password: 'wrong password!!' })
      const socket = connect(port, '127.0.0.1')
      socket.write(
        'POST /api/auth/login HTTP/1.1\r\nHost: gatehouse\r\nContent-Type: application/json\r\n' +
          `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      )
      await until(t, (h) => h.waiting === 1)
      socket.destroy()
      await until(t, (h) => h.abandoned === 1)
      expect((await hashes(t)).waiting).toBe(0)

      expect((await first).status).toBe(200)
      expect(await hashes(t)).toMatchObject({ running: 0, waiting: 0, busy: 0, abandoned: 1 })
      expect(await failedLogins(t)).toBe(0)
      expect(t.logs.join('\n')).toContain('"reason":"abandoned","msg":"password not hashed"')
      expectLoadNotBugs(t.logs)
    } finally {
      await t.close()
    }
  })
})
