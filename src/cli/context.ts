import type { Config } from '../config/types.js'
import { createContainer, type Services } from '../container.js'
import { checkDatabaseReachable, describeDatabaseUrl, sqliteFileExists } from '../store/db.js'
import { appliedMigrationCount, migrateToLatest } from '../store/migrate.js'

/** What every command gets: its parsed arguments, output streams and a lazily built container. */
export interface CliContext {
  args: string[]
  out: (line: string) => void
  readStdin: () => Promise<string>
  /** Builds the services (migrating the database first) the first time a command needs them. */
  services: () => Promise<Services>
  /** The migrations the first `services()` call applied (tests that build a context may omit it). */
  appliedMigrations?: () => readonly string[]
  config: Config
}

export interface Command {
  name: string
  usage: string
  /** Only `migrate` may create a database (and a development secret key); see index.ts. */
  createsDatabase?: boolean
  /** Read-only commands do not print where they act. */
  readOnly?: boolean
  /** Refuses arguments the command does not take, with one line (see args.ts). */
  checkArgs(argv: string[]): void
  run(ctx: CliContext): Promise<number | void>
}

export class CliError extends Error {}

/**
 * The line a writing command prints first (on standard error, so that its output stays
 * machine-readable), so that acting on the wrong installation shows.
 */
export function whereLine(config: Config, keyId: string): string {
  const old = config.secrets.oldKeys.length
  return (
    `using database ${describeDatabaseUrl(config.databaseUrl)} and the secret key from ` +
    `${config.secrets.source} (key id ${keyId}${old > 0 ? `, ${old} old key${old === 1 ? '' : 's'}` : ''})` +
    (config.secrets.generated ? '; that key was generated just now (development only)' : '')
  )
}

export function createServicesOnce(
  config: Config,
  command: Pick<Command, 'createsDatabase' | 'readOnly'>,
  /** Where informational lines go (standard error), never the command's output. */
  note: (line: string) => void,
): {
  get: () => Promise<Services>
  applied: () => readonly string[]
  close: () => Promise<void>
} {
  let services: Services | undefined
  let applied: string[] = []
  const where = describeDatabaseUrl(config.databaseUrl)
  // A CLI run in another folder once made a fresh ./data there and "created" an admin nobody
  // could log in as: only `migrate` may start an installation.
  const requireInstallation = async (s: Services) => {
    if (command.createsDatabase) return
    if ((await appliedMigrationCount(s.db)) === 0)
      throw new CliError(`${where} holds no Gatehouse database; run gatehouse migrate first`)
  }
  return {
    async get() {
      if (!services) {
        if (!command.createsDatabase && !sqliteFileExists(config.databaseUrl)) {
          throw new CliError(
            `no database at ${where}; run gatehouse where the installation's .env and data/ are ` +
              '(or with its DATABASE_URL), or gatehouse migrate to create one',
          )
        }
        const built = createContainer(config, { defaultMetrics: false })
        services = built
        await checkDatabaseReachable(built.db, config.databaseUrl)
        await requireInstallation(built)
        applied = await migrateToLatest(built.db)
        await built.sealedKeys.assertAllPresent(config.secrets.source)
        if (!command.readOnly) note(whereLine(config, built.box.currentKid))
      }
      return services
    },
    applied: () => applied,
    async close() {
      await services?.close()
    },
  }
}
