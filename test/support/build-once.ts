import { execFileSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

/**
 * Vitest global setup: the CLI tests run the real `bin/gatehouse.js`, which loads `dist/`.
 * Rebuild only when a source file is newer than the build (npm ci has just built in CI).
 */
function newestMtime(dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs)
  }
  return newest
}

export default function setup(): void {
  let built = 0
  try {
    built = statSync('dist/cli/index.js').mtimeMs
  } catch {
    // Not built yet.
  }
  if (built < newestMtime('src')) {
    execFileSync(
      process.execPath,
      ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'],
      { stdio: 'inherit' },
    )
  }
}
