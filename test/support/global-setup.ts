import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

/** The newest modification time of any file under `dir`. */
function newestMtime(dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs)
  }
  return newest
}

/**
 * CLI tests run the real `gatehouse` binary, which runs dist/. `npm ci` builds it (through
 * `prepare`); a developer who edited src/ since gets it rebuilt here, once, before any test
 * file starts, so no two test files ever build at the same time.
 */
export default function setup(): void {
  const entry = join('dist', 'cli', 'index.js')
  if (existsSync(entry) && statSync(entry).mtimeMs >= newestMtime('src')) return
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    stdio: 'inherit',
  })
}
