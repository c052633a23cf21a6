import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'

/**
 * Issue 10, "done when": the README run top to bottom by a stranger works exactly as shown.
 * Every ```sh block of the sections below (unless marked `<!-- readme-walk: skip … -->`) is
 * run in order, in one bash session, against a fresh server started from the built dist/ in
 * an empty folder with no configuration (development defaults: ./data/, a generated key,
 * mail written to the log). A command that fails (curl gets --fail-with-body) fails the test;
 * each `# → …` line must match a line the commands since the previous `# →` printed (`…`
 * matches anything). Differences from a reader's terminal: the port is a free one instead of
 * 3000, and `npx gatehouse` runs `node bin/gatehouse.js` (npx would only add its own
 * start-up time). The quick start's `totp_next` waits for the next TOTP step twice, so the
 * walk takes up to a minute longer than its commands.
 */
const SECTIONS = [
  '## Quick start',
  '### The first admin',
  '### The 2FA flow with curl',
  '## Command line',
  '## API keys',
  '## TOTP as a service',
  '## Products',
  '## Integrating your backend',
  '## Moving users over: `gatehouse user import`',
  '## Security notifications',
  '## Tamper-evident audit log',
]
const SKIP = '<!-- readme-walk: skip'
const EXPECT = '# → '

interface Block {
  section: string
  lines: string[]
}

function blocksOf(markdown: string): Block[] {
  const lines = markdown.split('\n')
  const blocks: Block[] = []
  for (const heading of SECTIONS) {
    const start = lines.indexOf(heading)
    if (start < 0) throw new Error(`README has no section "${heading}"`)
    const level = heading.split(' ')[0]!.length
    let end = lines.findIndex(
      (l, i) => i > start && /^#+ /.test(l) && l.split(' ')[0]!.length <= level,
    )
    if (end < 0) end = lines.length
    let skip = false
    for (let i = start + 1; i < end; i++) {
      const line = lines[i]!
      if (line.startsWith(SKIP)) skip = true
      if (line === '```sh') {
        const close = lines.indexOf('```', i + 1)
        if (!skip) blocks.push({ section: heading, lines: lines.slice(i + 1, close) })
        skip = false
        i = close
      } else if (line.startsWith('```')) {
        i = lines.indexOf('```', i + 1)
      }
    }
  }
  return blocks
}

/** `…` matches anything; everything else literally; the whole line. */
function linePattern(expected: string): RegExp {
  const parts = expected.split('…').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
  return new RegExp(`^${parts.join('.*?')}$`)
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer()
    server.once('error', fail)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => done(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

/** The environment of a stranger's shell: no Gatehouse or test variables. */
function cleanEnv(): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' }
}

describe('the README, run top to bottom', () => {
  const repo = resolve('.')
  let dir: string
  let port: number
  let server: ChildProcess

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-readme-'))
    port = await freePort()
    const log = openSync(join(dir, 'gatehouse.log'), 'a')
    server = spawn(process.execPath, [join(repo, 'dist', 'main.js')], {
      cwd: dir,
      env: { ...cleanEnv(), PORT: String(port) },
      stdio: ['ignore', log, log],
    })
    await vi.waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`)
        expect(res.status).toBe(200)
      },
      { timeout: 60_000, interval: 200 },
    )
  }, 90_000)

  afterAll(() => {
    server?.kill()
    rmSync(dir, { recursive: true, force: true })
  })

  it('every command succeeds and prints what the README shows', async () => {
    const blocks = blocksOf(readFileSync(join(repo, 'README.md'), 'utf8'))
    expect(blocks.length).toBeGreaterThanOrEqual(5)

    // Each run of `# →` lines becomes one check over the output since the previous check.
    const checks: { section: string; expected: string[] }[] = []
    const script = [
      'set -euo pipefail',
      'curl() { command curl --fail-with-body --show-error "$@"; }',
      `npx() { if [ "$1" = gatehouse ]; then shift; node ${JSON.stringify(join(repo, 'bin', 'gatehouse.js'))} "$@"; else command npx "$@"; fi; }`,
    ]
    for (const block of blocks) {
      // Markers start on a new line: curl leaves JSON without a trailing newline.
      script.push(`printf '\\n@@section ${block.section}@@\\n'`)
      for (const raw of block.lines) {
        const line = raw.replaceAll('localhost:3000', `localhost:${port}`)
        if (line.startsWith(EXPECT)) {
          const last = checks.at(-1)
          const previous = script.at(-1) ?? ''
          if (last && previous === `printf '\\n@@check ${checks.length - 1}@@\\n'`) {
            last.expected.push(raw.slice(EXPECT.length))
          } else {
            checks.push({ section: block.section, expected: [raw.slice(EXPECT.length)] })
            script.push(`printf '\\n@@check ${checks.length - 1}@@\\n'`)
          }
        } else {
          script.push(line)
        }
      }
    }

    const { code, output } = await new Promise<{ code: number; output: string }>((done) => {
      const bash = spawn('bash', ['-c', script.join('\n')], {
        cwd: dir,
        env: cleanEnv(),
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let output = ''
      bash.stdout.on('data', (d: Buffer) => (output += d.toString()))
      bash.stderr.on('data', (d: Buffer) => (output += d.toString()))
      bash.on('close', (c) => done({ code: c ?? -1, output }))
    })
    const tail = output.split('\n').slice(-15).join('\n')
    expect(code, `the README's commands failed; the last output:\n${tail}`).toBe(0)

    const segments = output.split(/^@@check (\d+)@@\n/m)
    // segments: [before check 0, '0', between 0 and 1, '1', …]
    for (let i = 0; i < checks.length; i++) {
      const check = checks[i]!
      const index = segments.indexOf(String(i))
      expect(index, `check ${i} never reached`).toBeGreaterThan(0)
      const printed = segments[index - 1]!.split('\n').filter((l) => !l.startsWith('@@section'))
      let from = 0
      for (const expected of check.expected) {
        const pattern = linePattern(expected)
        const at = printed.findIndex((l, j) => j >= from && pattern.test(l))
        expect(
          at,
          `${check.section}: expected a line like\n  ${expected}\nin\n${printed.join('\n')}`,
        ).toBeGreaterThanOrEqual(0)
        from = at + 1
      }
    }
  }, 480_000)
})
