import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { ConfigError, InvalidValue } from './errors.js'
import { parseSecretKey } from './parsers.js'

function isNodeError(err: unknown, code: string): boolean {
  return err instanceof Error && 'code' in err && err.code === code
}

function readKeyFile(path: string): Buffer {
  try {
    return parseSecretKey(readFileSync(path, 'utf8').trim())
  } catch (err) {
    if (!(err instanceof InvalidValue)) throw err
    throw new ConfigError(
      'GATEHOUSE_SECRET_KEY',
      `${path} must hold 32 bytes as base64 or hex (got ${err.got ?? 'something else'})`,
    )
  }
}

export interface DevSecretKey {
  key: Buffer
  generated: boolean
  path: string
}

/**
 * The development secret key (SPEC §2): read from `path`, or generated into it on first run.
 * With dotenv.ts, the only I/O in config/; loadConfig reaches it through `opts.devSecretKey`.
 */
export function loadOrCreateDevSecretKey(path: string): DevSecretKey {
  try {
    return { key: readKeyFile(path), generated: false, path }
  } catch (err) {
    if (!isNodeError(err, 'ENOENT')) throw err
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  const key = randomBytes(32)
  try {
    // 'wx': if another process starting at the same moment wrote the file first, use its key,
    // or the two would encrypt with different keys.
    writeFileSync(path, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' })
  } catch (err) {
    if (!isNodeError(err, 'EEXIST')) throw err
    return { key: readKeyFile(path), generated: false, path }
  }
  return { key, generated: true, path }
}

/**
 * The development secret key for commands that must not create one (every CLI command but
 * `migrate` and `serve`): a missing file means this is not the installation's folder, and a
 * new key there would seal secrets nobody else can open.
 */
export function loadDevSecretKey(path: string): DevSecretKey {
  try {
    return { key: readKeyFile(path), generated: false, path }
  } catch (err) {
    if (!isNodeError(err, 'ENOENT')) throw err
    throw new ConfigError(
      'GATEHOUSE_SECRET_KEY',
      `is not set and there is no development key at ${path}; run gatehouse in the ` +
        "installation's folder with the servers' environment (or gatehouse migrate to set up a new one here)",
    )
  }
}
