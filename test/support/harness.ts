import { Writable } from 'node:stream'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config/index.js'
import type { Config } from '../../src/config/types.js'
import { createContainer, type Services } from '../../src/container.js'
import type { App } from '../../src/http/routes/types.js'
import { migrateToLatest } from '../../src/store/migrate.js'
import { fakeClock, type FakeClock } from './clock.js'

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

/** A migrated app on a fresh database, with a fake clock. */
export async function startApp(
  url: string,
  opts: { env?: Record<string, string>; clock?: FakeClock } = {},
): Promise<TestApp> {
  const config = testConfig(url, opts.env)
  const clock = opts.clock ?? fakeClock()
  const logs: string[] = []
  const services = createContainer(config, {
    clock,
    hasherOptions: fastHashing,
    defaultMetrics: false,
    logger: {
      info: (obj, msg) => logs.push(JSON.stringify({ level: 'info', ...obj, msg })),
      warn: (obj, msg) => logs.push(JSON.stringify({ level: 'warn', ...obj, msg })),
    },
  })
  await migrateToLatest(services.db)
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString('utf8'))
      done()
    },
  })
  const app = await buildApp(services, { logger: { level: 'info', stream } })
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
