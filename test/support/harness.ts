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
  const services = createContainer(config, {
    clock,
    hasherOptions: fastHashing,
    defaultMetrics: false,
  })
  await migrateToLatest(services.db)
  const app = await buildApp(services)
  await app.ready()
  return {
    app,
    services,
    clock,
    config,
    async close() {
      await app.close()
      await services.close()
    },
  }
}
