import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { processEnv, runCli, runNode, type CliResult } from '../support/cli.js'
import { freePort } from '../support/net.js'

// Each case spawns node and loads the whole service; on a loaded two-core machine that is slow.
const SLOW = 120_000
const PASSWORD = 'hunter2-in-the-url'

/** `npm start`: node dist/main.js, as the README runs it. */
function npmStart(env: Record<string, string>, cwd: string): Promise<CliResult> {
  return runNode(resolve('dist/main.js'), [], { databaseUrl: undefined, env, cwd })
}

/** The one line a failed start-up prints, checked for the variable and for the password. */
function expectOneLine(res: CliResult, line: RegExp) {
  expect(res.code).toBe(1)
  expect(res.stderr.trim().split('\n')).toHaveLength(1)
  expect(res.stderr.trim()).toMatch(line)
  expect(res.stdout + res.stderr).not.toContain(PASSWORD)
}

/**
 * Regression: a HOST that does not resolve, a port taken, or a DATABASE_URL whose server is
 * unreachable stopped start-up with the bare system error (`startup failed: connect
 * ECONNREFUSED 127.0.0.1:5432`), which names neither the variable nor its value.
 */
describe('a start-up that cannot use its configuration', () => {
  let dir: string
  let closedPort: number
  let taken: Server
  let takenPort: number
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-startup-'))
    closedPort = await freePort()
    taken = createServer()
    await new Promise<void>((done) => taken.listen(0, '127.0.0.1', done))
    takenPort = (taken.address() as { port: number }).port
  })
  afterAll(async () => {
    await new Promise((done) => taken.close(done))
    rmSync(dir, { recursive: true, force: true })
  })
  const serve = (env: Record<string, string>, databaseUrl = `sqlite:${join(dir, 'g.db')}`) =>
    runCli(['serve'], { databaseUrl, cwd: dir, env: { LOG_LEVEL: 'warn', ...env } })

  it.each([
    ['postgres', 'postgres://gatehouse'],
    ['mysql', 'mysql://gatehouse'],
  ])(
    'names DATABASE_URL and where it points, without the password, when %s is unreachable',
    async (_name, prefix) => {
      const url = `${prefix}:${PASSWORD}@127.0.0.1:${closedPort}/gatehouse`
      const where = `${prefix}:\\*\\*\\*@127\\.0\\.0\\.1:${closedPort}/gatehouse`
      expectOneLine(
        await serve({}, url),
        new RegExp(`^gatehouse: DATABASE_URL: cannot connect to ${where} \\(.*ECONNREFUSED`),
      )
      expectOneLine(
        await npmStart({ DATABASE_URL: url, LOG_LEVEL: 'warn' }, dir),
        new RegExp(`^DATABASE_URL: cannot connect to ${where} \\(.*ECONNREFUSED`),
      )
    },
    SLOW,
  )

  it.each([
    ['under a plain file', () => join(dir, 'plain-file', 'g.db')],
    // Node's recursive mkdir loops forever where the kernel answers ENOENT for a folder that
    // exists but takes no new entries: start-up hung instead of naming the variable.
    ['in a folder that takes no new folders', () => '/proc/gatehouse/g.db'],
  ])(
    'names DATABASE_URL when the SQLite file cannot be opened (%s)',
    async (_name, path) => {
      writeFileSync(join(dir, 'plain-file'), '')
      const url = `sqlite:${path()}`
      expectOneLine(
        await serve({}, url),
        new RegExp(`^gatehouse: DATABASE_URL: cannot open ${url.replaceAll('.', '\\.')} \\(`),
      )
    },
    SLOW,
  )

  it(
    'names HOST when it does not resolve, or is not an address of this machine',
    async () => {
      expectOneLine(
        await serve({ HOST: 'no-such-host.invalid' }),
        /^gatehouse: HOST: cannot resolve "no-such-host\.invalid" to an address \(/,
      )
      // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never an address of this machine.
      expectOneLine(
        await npmStart({ HOST: '192.0.2.1', DATABASE_URL: `sqlite:${join(dir, 'g.db')}` }, dir),
        /^HOST: "192\.0\.2\.1" is not an address of this machine \(/,
      )
    },
    SLOW,
  )

  it(
    'names PORT when it is already taken',
    async () => {
      expectOneLine(
        await serve({ PORT: String(takenPort) }),
        new RegExp(`^gatehouse: PORT: ${takenPort} is already in use on "127\\.0\\.0\\.1" \\(`),
      )
    },
    SLOW,
  )
})

/** `gatehouse serve` until its output contains `text`; then it is stopped. */
function serveUntil(env: Record<string, string>, text: string, cwd: string): Promise<string> {
  return new Promise((done, reject) => {
    const child = spawn(process.execPath, [resolve('bin/gatehouse.js'), 'serve'], {
      cwd,
      env: processEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    // Stopped in any case, so a missing line fails the test instead of leaving a server behind.
    const timer = setTimeout(() => child.kill('SIGTERM'), 60_000)
    const read = (d: Buffer) => {
      output += d.toString()
      if (output.includes(text)) child.kill('SIGTERM')
    }
    child.stdout.on('data', read)
    child.stderr.on('data', read)
    child.on('error', reject)
    child.on('close', () => {
      clearTimeout(timer)
      done(output)
    })
  })
}

describe('a REDIS_URL whose server is unreachable', () => {
  let dir: string
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-redis-'))
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it(
    'is named in the warning, without its password (the service keeps running without it)',
    async () => {
      const redisPort = await freePort()
      const warning = `Redis at REDIS_URL=redis://:***@127.0.0.1:${redisPort}/0 is unreachable`
      const output = await serveUntil(
        {
          DATABASE_URL: `sqlite:${join(dir, 'g.db')}`,
          REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:${redisPort}/0`,
          PORT: String(await freePort()),
          LOG_LEVEL: 'warn',
        },
        warning,
        dir,
      )
      expect(output).toContain(warning)
      expect(output).not.toContain(PASSWORD)
    },
    SLOW,
  )
})

describe('a PORT other than 3000 without PUBLIC_URL', () => {
  let dir: string
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-port-'))
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it(
    'is warned about: the default PUBLIC_URL still names port 3000',
    async () => {
      const port = await freePort()
      const warning = `PUBLIC_URL is not set, so it is http://localhost:3000 while Gatehouse listens on port ${port}`
      const output = await serveUntil(
        { DATABASE_URL: `sqlite:${join(dir, 'g.db')}`, PORT: String(port), LOG_LEVEL: 'warn' },
        warning,
        dir,
      )
      expect(output).toContain(warning)
      const set = await serveUntil(
        {
          DATABASE_URL: `sqlite:${join(dir, 'g.db')}`,
          PORT: String(port),
          PUBLIC_URL: `http://localhost:${port}`,
        },
        'Server listening',
        dir,
      )
      expect(set).not.toContain('PUBLIC_URL is not set')
    },
    SLOW,
  )
})

/** Regression: a .env that exists but cannot be read was ignored, and start-up used defaults. */
describe('a .env that cannot be read', () => {
  let dir: string
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-dotenv-'))
    mkdirSync(join(dir, '.env'))
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it(
    'stops npm start and every CLI command, naming it',
    async () => {
      const env = { LOG_LEVEL: 'warn', PORT: String(await freePort()) }
      const start = await npmStart({ ...env, DATABASE_URL: `sqlite:${join(dir, 'g.db')}` }, dir)
      expectOneLine(start, /^\.env: cannot be read \(/)
      const cli = await runCli(['user', 'list'], { databaseUrl: undefined, cwd: dir, env })
      expectOneLine(cli, /^gatehouse: \.env: cannot be read \(/)
    },
    SLOW,
  )
})
