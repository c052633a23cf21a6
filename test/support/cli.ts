import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { TEST_SECRET_KEY } from './harness.js'

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

const BIN = resolve('bin/gatehouse.js')

/**
 * The line every writing command prints first (database and key source), on standard error so
 * that standard output stays machine-readable; tests skip it.
 */
export const WHERE_LINE = /^using database \S+ and the secret key from [^\n]*\n?/

/**
 * The environment of a Gatehouse process under test: PATH, the test secret key, NODE_ENV=test
 * and `env` over them (an empty `GATEHOUSE_SECRET_KEY` there leaves the key unset).
 */
export function processEnv(env: Record<string, string> = {}, databaseUrl?: string) {
  return {
    PATH: process.env.PATH,
    ...(databaseUrl === undefined ? {} : { DATABASE_URL: databaseUrl }),
    GATEHOUSE_SECRET_KEY: TEST_SECRET_KEY,
    NODE_ENV: 'test',
    ...env,
  }
}

export interface RunOptions {
  databaseUrl: string | undefined
  stdin?: string
  env?: Record<string, string>
  cwd?: string
}

/** Runs a Node script of the project (the CLI, `dist/main.js`) to its end and collects its output. */
export function runNode(script: string, args: string[], opts: RunOptions): Promise<CliResult> {
  return new Promise((done, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      cwd: opts.cwd,
      env: processEnv(opts.env, opts.databaseUrl),
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => done({ code: code ?? -1, stdout, stderr }))
    child.stdin.end(opts.stdin ?? '')
  })
}

/**
 * Runs the real `gatehouse` binary with a database URL and the test secret key. `cwd` runs it
 * in another folder (where ./data/ would be); `databaseUrl: undefined` leaves DATABASE_URL
 * unset and an empty `GATEHOUSE_SECRET_KEY` in `env` leaves the key unset.
 */
export function runCli(args: string[], opts: RunOptions): Promise<CliResult> {
  return runNode(BIN, args, opts)
}
