import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

/**
 * Vitest global setup, run once per `npm test` before any worker starts:
 * - names this run, so its PostgreSQL schemas can be dropped together at the end;
 * - rebuilds `dist/` when a source file is newer than it, because the CLI tests run the real
 *   `bin/gatehouse.js` (npm ci has just built in CI, so there it costs nothing).
 */
function newestMtime(dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs)
  }
  return newest
}

function buildIfStale(): void {
  let built = 0
  try {
    built = statSync('dist/cli/index.js').mtimeMs
  } catch {
    // Not built yet.
  }
  if (built < newestMtime('src')) {
    execFileSync(process.execPath, ['scripts/build-server.js'], { stdio: 'inherit' })
  }
}

export default function setup(): () => Promise<void> {
  process.env.GH_TEST_RUN = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`
  buildIfStale()
  return async () => {
    const { dropRunSchemas } = await import('./databases.js')
    await dropRunSchemas()
  }
}
