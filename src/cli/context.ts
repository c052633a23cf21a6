import type { Config } from '../config/types.js'
import { createContainer, type Services } from '../container.js'
import { migrateToLatest } from '../store/migrate.js'

/** What every command gets: its parsed arguments, output streams and a lazily built container. */
export interface CliContext {
  args: string[]
  out: (line: string) => void
  readStdin: () => Promise<string>
  /** Builds the services (migrating the database first) the first time a command needs them. */
  services: () => Promise<Services>
  config: Config
}

export interface Command {
  name: string
  usage: string
  run(ctx: CliContext): Promise<number | void>
}

export class CliError extends Error {}

export function createServicesOnce(config: Config): {
  get: () => Promise<Services>
  close: () => Promise<void>
} {
  let services: Services | undefined
  return {
    async get() {
      if (!services) {
        services = createContainer(config, { defaultMetrics: false })
        await migrateToLatest(services.db)
      }
      return services
    },
    async close() {
      await services?.close()
    },
  }
}
