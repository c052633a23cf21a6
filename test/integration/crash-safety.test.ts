import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import net from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { createDb } from '../../src/store/db.js'
import { fakeClock } from '../support/clock.js'
import { testDatabases } from '../support/databases.js'
import { startApp, TEST_SECRET_KEY } from '../support/harness.js'

/**
 * Crash safety of refresh rotation: `kill -9` a real server (bin/gatehouse.js serve on a real
 * port) while clients rotate refresh tokens, start it again, and check that every session was
 * either rotated or not, never both: exactly one unspent token per session, the client's last
 * token either still live or spent into that one successor, and no old token working next to
 * a new one. REFRESH_REUSE_GRACE=0s, so a spent token is refused outright.
 */
const databases = (await testDatabases()).filter((d) => d.name !== 'mysql')
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')

async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

describe.each(databases)('a server killed mid-rotation on $name', (database) => {
  const children: ChildProcess[] = []
  const cleanups: (() => Promise<void>)[] = []
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
    for (const cleanup of cleanups) await cleanup()
  })

  it('leaves every session rotated or not, never both', async () => {
    const fresh = await database.create()
    cleanups.push(fresh.drop)
    const clients = 12
    // Sessions made through the services (cheap hashing); the server only rotates them.
    // The real server runs on the wall clock, so the seeded sessions start at "now" too.
    const seed = await startApp(fresh.url, { clock: fakeClock(new Date()) })
    const tokens: { sessionId: string; current: string; previous?: string }[] = []
    for (let i = 0; i < clients; i++) {
      const userId = await seed.services.accounts.create({
        username: `crash-${i}`,
        password: 'correct horse battery staple',
      })
      const issued = await seed.services.sessions.start({
        userId,
        amr: ['pwd'],
        context: { ip: '127.0.0.1', userAgent: 'test' },
      })
      tokens.push({ sessionId: issued.sessionId, current: issued.refreshToken })
    }
    await seed.close()

    const port = await freePort()
    const base = `http://127.0.0.1:${port}`
    const serve = () => {
      const child = spawn(process.execPath, ['bin/gatehouse.js', 'serve'], {
        env: {
          PATH: process.env.PATH,
          DATABASE_URL: fresh.url,
          GATEHOUSE_SECRET_KEY: TEST_SECRET_KEY,
          NODE_ENV: 'test',
          HOST: '127.0.0.1',
          PORT: String(port),
          REFRESH_REUSE_GRACE: '0s',
          LOG_LEVEL: 'error',
        },
        stdio: 'ignore',
      })
      children.push(child)
      return child
    }
    const healthy = async () => {
      for (;;) {
        try {
          if ((await fetch(`${base}/healthz`)).ok) return
        } catch {
          // Not listening yet.
        }
        await new Promise((resolve) => setTimeout(resolve, 25))
      }
    }
    const refresh = (token: string) =>
      fetch(`${base}/api/auth/refresh`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refresh_token: token }),
      })

    const server = serve()
    await healthy()
    let rotated = 0
    let stop = false
    const run = async (s: (typeof tokens)[number]) => {
      while (!stop) {
        try {
          const res = await refresh(s.current)
          if (res.status !== 200) throw new Error(`refresh answered ${res.status}`)
          const body = (await res.json()) as { refresh_token: string }
          s.previous = s.current
          s.current = body.refresh_token
          rotated++
        } catch (err) {
          if (stop) return
          throw err
        }
      }
    }
    let finished = 0
    const running = Promise.allSettled(tokens.map((s) => run(s).finally(() => finished++)))
    // Kill while rotations are in full flow (or stop early if the clients failed on their own).
    while (rotated < clients * 5 && finished === 0)
      await new Promise((resolve) => setTimeout(resolve, 5))
    stop = true
    const exited = new Promise((resolve) => server.once('exit', resolve))
    server.kill('SIGKILL')
    await exited
    const settled = await running
    expect(settled.filter((r) => r.status === 'rejected')).toEqual([])

    const restarted = serve()
    await healthy()
    const { db, close } = createDb(fresh.url)
    try {
      let lostResponses = 0
      for (const s of tokens) {
        const rows = await db
          .selectFrom('refresh_tokens')
          .selectAll()
          .where('session_id', '=', s.sessionId)
          .execute()
        const live = rows.filter((r) => r.used_at === null)
        expect(live, s.sessionId).toHaveLength(1)
        const successors = rows.map((r) => r.successor_id).filter((id) => id !== null)
        expect(new Set(successors).size).toBe(successors.length)
        const held = rows.find((r) => r.token_hash === sha256(s.current))!
        if (held.used_at === null) continue
        // Rotated, but the answer died with the server: spent into the one live token.
        expect(held.successor_id).toBe(live[0]!.id)
        lostResponses++
      }
      expect(lostResponses).toBeLessThanOrEqual(clients)

      // Over HTTP: a token still live rotates once, and then it (the old one) is refused.
      for (const s of tokens) {
        const held = await db
          .selectFrom('refresh_tokens')
          .select('used_at')
          .where('token_hash', '=', sha256(s.current))
          .executeTakeFirstOrThrow()
        if (held.used_at !== null) continue
        expect((await refresh(s.current)).status).toBe(200)
        expect((await refresh(s.current)).status).toBe(401)
      }
    } finally {
      await close()
      const gone = new Promise((resolve) => restarted.once('exit', resolve))
      restarted.kill('SIGKILL')
      await gone
    }
    // Two real server start-ups on a busy machine: seconds each, so a wide deadline.
  }, 240_000)
})
