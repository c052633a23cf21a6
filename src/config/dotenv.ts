import { ConfigError } from './errors.js'

/**
 * Loads `./.env` into the environment when there is one (README, Configuration). No file is
 * fine; a file that cannot be read (a folder, no permission) stops start-up naming it, where
 * ignoring it would start on defaults the operator did not choose.
 */
export function loadDotEnv(): void {
  try {
    process.loadEnvFile('.env')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    const reason = err instanceof Error ? err.message : String(err)
    throw new ConfigError('.env', `cannot be read (${reason})`)
  }
}
