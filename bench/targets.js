// The servers under load, all built from dist/ (the code `npm start` runs) and all listening
// on 127.0.0.1 in this process.
import { buildApp } from '../dist/app.js'
import { loadConfig } from '../dist/config/index.js'
import { createContainer } from '../dist/container.js'
import { migrateToLatest } from '../dist/store/migrate.js'
import { freshDatabase } from './databases.js'

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
 * Gatehouse on a fresh database (`database`: sqlite, postgres or mysql, see databases.js),
 * with one registered user (through the API, so the stored hash has the production
 * parameters) and an access token for it. `completed()` counts the HTTP responses the server
 * has finished, so CPU time can be divided by the requests it really served (including those
 * the load generator abandoned at the end of a slice).
 */
export async function startGatehouse(
  extraEnv = {},
  { database = 'sqlite', register = true, databaseUrl } = {},
) {
  // With `databaseUrl`, an existing database another instance shares (instances.js): kept.
  const store = databaseUrl
    ? { url: databaseUrl, drop: async () => {} }
    : await freshDatabase(database)
  let services
  let app
  try {
    const config = loadConfig(benchEnv(store.url, extraEnv))
    services = createContainer(config)
    await migrateToLatest(services.db)
    app = await buildApp(services, { logger: false })
    await app.listen({ host: '127.0.0.1', port: 0 })
    let completed = 0
    app.server.on('request', (_req, res) => res.on('finish', () => completed++))
    const { port } = app.server.address()
    const origin = `http://127.0.0.1:${port}`
    const server = {
      origin,
      accessToken: undefined,
      get redisStatus() {
        return services.redisStatus()
      },
      completed: () => completed,
      /** Registers the bench user (unless another instance did) and logs in for an access token. */
      async prepare({ registered = false } = {}) {
        if (!registered) await post(`${origin}/api/auth/register`, BENCH_USER)
        const tokens = await post(`${origin}/api/auth/login`, BENCH_USER)
        server.accessToken = tokens.access_token
      },
      async close() {
        await app.close()
        await services.close()
        await store.drop()
      },
    }
    if (register) await server.prepare()
    return server
  } catch (err) {
    await app?.close()
    await services?.close()
    await store.drop()
    throw err
  }
}
