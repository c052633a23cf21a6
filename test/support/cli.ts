import { spawn } from 'node:child_process'
import { TEST_SECRET_KEY } from './harness.js'

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

/** Runs the real `gatehouse` binary with a database URL and the test secret key. */
export function runCli(
  args: string[],
  opts: { databaseUrl: string; stdin?: string; env?: Record<string, string> },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/gatehouse.js', ...args], {
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: opts.databaseUrl,
        GATEHOUSE_SECRET_KEY: TEST_SECRET_KEY,
        NODE_ENV: 'test',
        ...opts.env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
    child.stdin.end(opts.stdin ?? '')
  })
}
