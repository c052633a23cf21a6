// The servers under load, all built from dist/ (the code `npm start` runs) and all listening
// on 127.0.0.1 in this process.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fastify from 'fastify'
import { buildApp } from '../dist/app.js'
import { loadConfig } from '../dist/config/index.js'
import { createContainer } from '../dist/container.js'
import { migrateToLatest } from '../dist/store/migrate.js'

// Fixed so runs are comparable; it only seals this run's throwaway signing keys.
const BENCH_SECRET_KEY = Buffer.alloc(32, 42).toString('base64')

export const BENCH_USER = { username: 'bench-user', password: 'bench-Lantern-91-quietly-orbit' }

/** Production settings, except limits raised so throttling never shapes the figures. */
function benchEnv(databaseUrl, extra) {
  return {
    NODE_ENV: 'production',
    DATABASE_URL: databaseUrl,
    GATEHOUSE_SECRET_KEY: BENCH_SECRET_KEY,
    ACCESS_TOKEN_TTL: '1h',
    LOGIN_MAX_FAILURES: '1000000',
    LOCKOUT_THRESHOLD: '1000000',
    IP_LOGIN_MAX_FAILURES: '1000000',
    IP_REGISTER_PER_HOUR: '1000000',
    ...extra,
  }
}

async function post(url, body, headers = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
  const json = await res.json()
  if (!res.ok) throw new Error(`POST ${url}: ${res.status} ${JSON.stringify(json)}`)
  return json
}

/**
 * Gatehouse on a fresh SQLite file in a temporary folder, with one registered user (through
 * the API, so the stored hash has the production parameters) and an access token for it.
 */
export async function startGatehouse(extraEnv = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-bench-'))
  let services
  let app
  try {
    const config = loadConfig(benchEnv(`sqlite:${join(dir, 'bench.db')}`, extraEnv))
    services = createContainer(config)
    await migrateToLatest(services.db)
    app = await buildApp(services, { logger: false })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = app.server.address()
    const origin = `http://127.0.0.1:${port}`
    await post(`${origin}/api/auth/register`, BENCH_USER)
    const tokens = await post(`${origin}/api/auth/login`, BENCH_USER)
    return {
      origin,
      accessToken: tokens.access_token,
      redisStatus: services.redisStatus(),
      async close() {
        await app.close()
        await services.close()
        await rm(dir, { recursive: true, force: true })
      },
    }
  } catch (err) {
    await app?.close()
    await services?.close()
    await rm(dir, { recursive: true, force: true })
    throw err
  }
}

/** The yardstick for /me: Fastify with one JSON route and nothing else. */
export async function startBare() {
  const app = fastify({ logger: false })
  app.get('/bare', async () => ({ id: 'usr_bench', username: 'bench-user', roles: ['user'] }))
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address()
  return { origin: `http://127.0.0.1:${port}`, close: () => app.close() }
}
