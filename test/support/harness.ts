import { Writable } from 'node:stream'
import { afterAll, beforeAll } from 'vitest'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config/index.js'
import type { Config } from '../../src/config/types.js'
import type { PasswordHasherOptions } from '../../src/crypto/password-hasher.js'
import { createContainer, type Services } from '../../src/container.js'
import type { App } from '../../src/http/routes/types.js'
import { migrateToLatest } from '../../src/store/migrate.js'
import { fakeClock, type FakeClock } from './clock.js'
import type { TestDatabase } from './databases.js'
import { clientOf, type Client } from './http.js'

/** NOTIFY_EVENTS with every kind, for the suites that test notifications. */
export const ALL_NOTIFICATIONS =
  'new_device,factor_changed,mfa_disabled,backup_code_used,account_locked,password_changed,refresh_token_reused'

export const TEST_SECRET_KEY = Buffer.alloc(32, 7).toString('base64')

/** Cheap argon2id parameters: tests are about behaviour, not hash cost (hashing.test covers that). */
export const fastHashing = { memoryKiB: 1024, timeCost: 1, parallelism: 1 }

export function testConfig(databaseUrl: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    GATEHOUSE_SECRET_KEY: TEST_SECRET_KEY,
    PASSWORD_MIN_LENGTH: '12',
    // Suites register many users from one injected address; the limit has its own tests.
    IP_REGISTER_PER_HOUR: '10000',
    // Security notifications (SPEC §4.13) would put "a factor was added" mails between the
    // codes that other suites read; the suites about notifications turn them on.
    NOTIFY_EVENTS: '',
    ...env,
  })
}

export interface TestApp {
  app: App
  services: Services
  clock: FakeClock
  config: Config
  /** Every log line the app and its notifiers wrote, as JSON text, to check nothing secret leaks. */
  logs: string[]
  /** Closes the app and services (not the database itself). */
  close(): Promise<void>
}

export interface StartOptions {
  env?: Record<string, string>
  clock?: FakeClock
  /** The built web UI to serve (default: web/dist of this checkout, if built). */
  webRoot?: string
  /** How long a client may take to send a request (the app's default otherwise). */
  requestTimeoutMs?: number
  /** The password hasher's settings, instead of the fast ones tests use. */
  hashing?: PasswordHasherOptions
}

/** A migrated app on a fresh database, with a fake clock. */
export async function startApp(url: string, opts: StartOptions = {}): Promise<TestApp> {
  const config = testConfig(url, opts.env)
  const clock = opts.clock ?? fakeClock()
  const logs: string[] = []
  const services = createContainer(config, {
    clock,
    hasherOptions: opts.hashing ?? fastHashing,
    defaultMetrics: false,
    logger: {
      info: (obj, msg) => logs.push(JSON.stringify({ level: 'info', ...obj, msg })),
      warn: (obj, msg) => logs.push(JSON.stringify({ level: 'warn', ...obj, msg })),
      error: (obj, msg) => logs.push(JSON.stringify({ level: 'error', ...obj, msg })),
    },
  })
  await migrateToLatest(services.db)
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString('utf8'))
      done()
    },
  })
  const app = await buildApp(services, {
    logger: { level: 'info', stream },
    ...(opts.webRoot === undefined ? {} : { webRoot: opts.webRoot }),
    ...(opts.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: opts.requestTimeoutMs }),
  })
  await app.ready()
  return {
    app,
    services,
    clock,
    config,
    logs,
    async close() {
      await app.close()
      await services.close()
    },
  }
}

/**
 * Gives the enclosing suite a fresh database: created in beforeAll, dropped in afterAll.
 * `url` can be read once the suite's hooks have run (inside hooks and tests).
 */
export function useFreshDatabase(database: TestDatabase): { readonly url: string } {
  let fresh: { url: string; drop: () => Promise<void> } | undefined
  beforeAll(async () => {
    fresh = await database.create()
  })
  afterAll(async () => {
    await fresh?.drop()
  })
  return {
    get url() {
      if (!fresh)
        throw new Error('the database is created in beforeAll: read url in hooks or tests')
      return fresh.url
    },
  }
}

/**
 * Gives the enclosing suite one app (startApp) on a fresh database: started in beforeAll,
 * closed and dropped in afterAll. `t` and `api` stand for that app and may be destructured
 * right away; they forward to it once it has started (inside hooks and tests). Options that
 * depend on something another beforeAll starts (a mail server, a synced clock) are passed as a
 * function, called when the app starts.
 */
export function useTestApp(
  database: TestDatabase,
  opts: StartOptions | (() => StartOptions) = {},
): { t: TestApp; api: Client } {
  const db = useFreshDatabase(database)
  let started: TestApp | undefined
  beforeAll(async () => {
    started = await startApp(db.url, typeof opts === 'function' ? opts() : opts)
  })
  // Registered after the database's afterAll, so it runs before it: close, then drop.
  afterAll(async () => {
    await started?.close()
  })
  const app = (): TestApp => {
    if (!started) throw new Error('the app starts in beforeAll: use it in hooks or tests')
    return started
  }
  const t: TestApp = {
    get app() {
      return app().app
    },
    get services() {
      return app().services
    },
    get clock() {
      return app().clock
    },
    get config() {
      return app().config
    },
    get logs() {
      return app().logs
    },
    close: () => app().close(),
  }
  return { t, api: clientOf(() => app().app) }
}
