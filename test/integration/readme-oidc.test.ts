import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { runCli, WHERE_LINE } from '../support/cli.js'
import { startApp, type TestApp } from '../support/harness.js'
import { STRONG_PASSWORD } from '../support/http.js'
import { freePort } from '../support/net.js'

/**
 * Issue 13, "done when": a second web app signs a person in through Gatehouse using only an
 * off-the-shelf OIDC client library and the README. The README's "Sign in with Gatehouse"
 * section is taken as written: its `sh` block registers the client with the real CLI, its `js`
 * block runs as the second app in its own Node process, and a person (a cookie-keeping fetch,
 * driving the interaction API as the web UI does) goes from the app's /login to its "Hello".
 * The only change: the app's port 4000 becomes a free port, in both blocks alike.
 */
const SECTION = '## Sign in with Gatehouse (OpenID Connect)'
const repo = fileURLToPath(new URL('../..', import.meta.url))

function section(markdown: string): string {
  const start = markdown.indexOf(`\n${SECTION}\n`)
  if (start < 0) throw new Error(`README has no section "${SECTION}"`)
  const end = markdown.indexOf('\n## ', start + SECTION.length + 2)
  return markdown.slice(start, end < 0 ? undefined : end)
}

/** The first ```lang block of the text, without the list indentation it sits in. */
function block(text: string, lang: string): string {
  const match = new RegExp(`\\n( *)\`\`\`${lang}\\n([\\s\\S]*?)\\n\\1\`\`\``).exec(text)
  if (!match) throw new Error(`no \`\`\`${lang} block in "${SECTION}"`)
  const indent = match[1]!
  return match[2]!
    .split('\n')
    .map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line))
    .join('\n')
}

/** Words of a shell command line: double quotes and backslash-newline, as the README uses them. */
function shellWords(line: string): string[] {
  const words: string[] = []
  for (const m of line.matchAll(/"([^"]*)"|(\S+)/g)) words.push(m[1] ?? m[2]!)
  return words
}

/** `…` matches anything; everything else literally; the whole line. */
const linePattern = (expected: string) =>
  new RegExp(
    `^${expected
      .split('…')
      .map((p) => p.trim().replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*?')}$`,
  )

describe('the README "Sign in with Gatehouse" example', { timeout: 120_000 }, () => {
  let dir: string
  let t: TestApp
  let gatehouseUrl: string
  let databaseUrl: string
  let app: ChildProcess | undefined
  let appOutput = ''

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-readme-oidc-'))
    databaseUrl = `sqlite:${join(dir, 'gatehouse.db')}`
    const port = await freePort()
    gatehouseUrl = `http://127.0.0.1:${port}`
    t = await startApp(databaseUrl, { env: { PUBLIC_URL: gatehouseUrl } })
    await t.app.listen({ port, host: '127.0.0.1' })
    await t.services.accounts.create({ username: 'alice', password: STRONG_PASSWORD, roles: [] })
  }, 60_000)

  afterAll(async () => {
    app?.kill()
    await t?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  /**
   * Black-box audit, item 3: the README's `--resource https://api.example.com --scope
   * api:read` failed with "scopes: must include openid", since --scope replaced the OpenID
   * Connect scopes. It now adds to them; the options are taken from the README as written.
   */
  it("registers a client with the README's --resource and --scope options", async () => {
    const text = section(readFileSync(join(repo, 'README.md'), 'utf8'))
    const options = /`(--resource [^`]*--scope [^`]*)`/.exec(text)?.[1]
    expect(options).toBeDefined()
    const created = await runCli(
      ['client', 'create', 'API reader', '--redirect-uri', 'http://localhost:4000/callback'].concat(
        shellWords(options!),
      ),
      { databaseUrl },
    )
    expect(created.stderr.replace(WHERE_LINE, '')).toBe('')
    expect(created.code, created.stderr).toBe(0)
    const clientId = /^client_id: (\S+)$/m.exec(created.stdout)?.[1]
    const { items } = await t.services.oidcClients.list({ limit: 100 })
    const client = items.find((c) => c.clientId === clientId)
    expect(client?.resources).toEqual(['https://api.example.com'])
    expect(client?.scopes).toEqual(
      expect.arrayContaining(['openid', 'profile', 'email', 'api:read']),
    )
  })

  it('registers the client with the CLI and signs alice in to the example app', async () => {
    const text = section(readFileSync(join(repo, 'README.md'), 'utf8'))
    const appPort = await freePort()
    const ported = (s: string) => s.replaceAll('localhost:4000', `localhost:${appPort}`)

    // Step 1, the CLI command as written; what it prints matches the README's "# " lines.
    const sh = ported(block(text, 'sh'))
    const command = sh
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .join('\n')
      .replace(/\\\n/g, ' ')
    const words = shellWords(command)
    expect(words.slice(0, 2)).toEqual(['npx', 'gatehouse'])
    const created = await runCli(words.slice(2), { databaseUrl })
    // Standard error says only where the command acted (the "using database …" line).
    expect(created.stderr.replace(WHERE_LINE, '')).toBe('')
    expect(created.code, created.stderr).toBe(0)
    const printed = created.stdout.split('\n')
    for (const shown of sh.split('\n').filter((l) => l.startsWith('# '))) {
      const pattern = linePattern(shown.slice(2))
      expect(
        printed.some((l) => pattern.test(l.trim())),
        `prints "${shown}"`,
      ).toBe(true)
    }
    const clientId = /^client_id: (\S+)$/m.exec(created.stdout)?.[1]
    const clientSecret = /^client_secret: (\S+)$/m.exec(created.stdout)?.[1]
    expect(clientId).toBeTruthy()
    expect(clientSecret).toBeTruthy()

    // Step 2, the app as written, in its own process (inside the repo, so its imports resolve).
    const appDir = join(repo, 'test-results', 'readme-oidc')
    mkdirSync(appDir, { recursive: true })
    const file = join(appDir, `app-${appPort}.mjs`)
    writeFileSync(file, ported(block(text, 'js')))
    app = spawn(process.execPath, [file], {
      env: {
        PATH: process.env.PATH,
        PORT: String(appPort),
        GATEHOUSE_URL: gatehouseUrl,
        CLIENT_ID: clientId!,
        CLIENT_SECRET: clientSecret!,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    app.stdout!.on('data', (d: Buffer) => (appOutput += d.toString()))
    app.stderr!.on('data', (d: Buffer) => (appOutput += d.toString()))
    const appUrl = `http://localhost:${appPort}`
    await vi.waitFor(
      async () => {
        expect(app!.exitCode, appOutput).toBeNull()
        await fetch(`${appUrl}/`)
      },
      { timeout: 30_000, interval: 100 },
    )

    // The person: a browser's cookies over fetch, through the interaction API as the web UI.
    const jar = new Map<string, string>()
    async function go(url: string, init: RequestInit = {}): Promise<Response> {
      const headers = new Headers(init.headers)
      if (url.startsWith(gatehouseUrl) && jar.size > 0)
        headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '))
      const res = await fetch(url, { ...init, headers, redirect: 'manual' })
      if (url.startsWith(gatehouseUrl)) {
        for (const line of res.headers.getSetCookie()) {
          const [pair] = line.split(';')
          const eq = pair!.indexOf('=')
          jar.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim())
        }
      }
      return res
    }
    const absolute = (to: string) => new URL(to, gatehouseUrl).href
    const login = await go(`${gatehouseUrl}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: STRONG_PASSWORD }),
    })
    const { access_token: token } = (await login.json()) as { access_token: string }

    let res = await go(`${appUrl}/login`)
    expect(res.status).toBe(302)
    let steps = 0
    for (;;) {
      const to = res.headers.get('location')
      expect(to, `step ${steps}: ${res.status}`).toBeTruthy()
      if (to!.startsWith(appUrl)) {
        res = await go(to!)
        break
      }
      const uid = /^\/oidc-interaction\/([A-Za-z0-9_-]+)$/.exec(to!)?.[1]
      if (uid) {
        const view = (await (await go(`${gatehouseUrl}/api/oidc/interaction/${uid}`)).json()) as {
          client: { name: string }
          prompt: { name: string }
        }
        expect(view.client.name).toBe('Team wiki')
        const action = view.prompt.name === 'login' ? 'login' : 'consent'
        const answer = await go(`${gatehouseUrl}/api/oidc/interaction/${uid}/${action}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify(action === 'consent' ? { allow: true } : {}),
        })
        expect(answer.status).toBe(200)
        res = await go(((await answer.json()) as { redirect_to: string }).redirect_to)
      } else {
        res = await go(absolute(to!))
      }
      expect(++steps).toBeLessThan(8)
    }
    // What the README says alice sees.
    const greeting = /`(Hello alice \([^`]*\))`/.exec(text)?.[1]
    expect(greeting).toBeDefined()
    expect(await res.text(), appOutput).toBe(greeting)
    expect(res.status).toBe(200)
  })
})
