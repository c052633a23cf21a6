import { describe, expect, it } from 'vitest'
import { runCli, WHERE_LINE } from '../support/cli.js'
import { testDatabases } from '../support/databases.js'
import { startApp, useFreshDatabase } from '../support/harness.js'
import { client, STRONG_PASSWORD } from '../support/http.js'

const databases = await testDatabases()

// Each test runs the real binary several times in a row, and each run (a fresh Node process
// loading dist/ and the native addons) takes seconds on a loaded two-core machine: eight of them
// passed the 30 s default. The tests wait on the processes, never on time.
describe.each(databases)(
  'gatehouse CLI (migrate, users, keys, secrets) on $name',
  { timeout: 180_000 },
  (database) => {
    const fresh = useFreshDatabase(database)

    it('migrates an empty database', async () => {
      const res = await runCli(['migrate'], { databaseUrl: fresh.url })
      expect(res.code, res.stderr).toBe(0)
      const where = res.stderr.split('\n').find((l) => WHERE_LINE.test(l))
      expect(where).toContain('the secret key from GATEHOUSE_SECRET_KEY (key id ')
      expect(res.stdout).toMatch(/^applied \d+ migrations: 0001-foundation, [^\n]*\n$/)
      const again = await runCli(['migrate'], { databaseUrl: fresh.url })
      expect(again.stdout).toBe('database is up to date\n')
    })

    it('creates a user whose password comes from stdin without the trailing newline', async () => {
      const res = await runCli(
        [
          'user',
          'create',
          'cli-admin',
          '--email',
          'admin@example.com',
          '--role',
          'admin',
          '--password-stdin',
        ],
        {
          databaseUrl: fresh.url,
          stdin: `${STRONG_PASSWORD}\n`,
        },
      )
      expect(res.code, res.stderr).toBe(0)
      expect(res.stdout).toContain('created user cli-admin')
      expect(res.stdout).not.toContain(STRONG_PASSWORD)

      const t = await startApp(fresh.url)
      try {
        const login = await client(t.app).post<{ user: { roles: string[] } }>('/api/auth/login', {
          username: 'cli-admin',
          password: STRONG_PASSWORD,
        })
        expect(login.status).toBe(200)
        expect(login.body.user.roles).toEqual(['admin'])
      } finally {
        await t.close()
      }
    })

    it('lists users', async () => {
      const res = await runCli(['user', 'list'], { databaseUrl: fresh.url })
      expect(res.code, res.stderr).toBe(0)
      expect(res.stdout).toMatch(/cli-admin\tadmin@example.com\tadmin\tactive/)
    })

    /**
     * Black-box audit, item 1: `gatehouse audit export > audit.ndjson` began with the
     * "using database …" line, so the file was not NDJSON and the README's verifier choked.
     * Where a command acts is now said on standard error; standard output is the export.
     */
    it('exports the audit log as pure NDJSON on stdout, saying where on stderr', async () => {
      const res = await runCli(['audit', 'export'], { databaseUrl: fresh.url })
      expect(res.code, res.stderr).toBe(0)
      expect(res.stderr).toMatch(WHERE_LINE)
      const lines = res.stdout.split('\n')
      expect(lines.pop()).toBe('')
      expect(lines.length).toBeGreaterThan(0)
      for (const line of lines) {
        const row = JSON.parse(line) as { id: unknown; event: unknown; hash: unknown }
        expect(row).toMatchObject({ event: expect.any(String), hash: expect.any(String) })
      }
      expect(lines.map((l) => (JSON.parse(l) as { event: string }).event)).toContain('register')
      // Every writing command keeps its output clean the same way.
      const rotated = await runCli(['keys', 'rotate'], { databaseUrl: fresh.url })
      expect(rotated.code, rotated.stderr).toBe(0)
      expect(rotated.stdout).toMatch(/^new signing key \S+; [^\n]*\n$/)
      expect(rotated.stderr).toMatch(WHERE_LINE)
    })

    it('refuses bad input with one line and a non-zero exit', async () => {
      const dup = await runCli(['user', 'create', 'CLI-ADMIN'], { databaseUrl: fresh.url })
      expect(dup.code).toBe(1)
      expect(dup.stderr.replace(WHERE_LINE, '').trim().split('\n')).toHaveLength(1)
      expect(dup.stderr).toContain('already taken')
      const weak = await runCli(['user', 'create', 'weak', '--password-stdin'], {
        databaseUrl: fresh.url,
        stdin: 'password123\n',
      })
      expect(weak.code).toBe(1)
      expect(weak.stderr.replace(WHERE_LINE, '')).toMatch(/^gatehouse: password/)
      const empty = await runCli(['user', 'create', 'nopass', '--password-stdin'], {
        databaseUrl: fresh.url,
        stdin: '',
      })
      expect(empty.code).toBe(1)
      expect(empty.stderr).toContain('--password-stdin: no password on standard input')
      const role = await runCli(['user', 'create', 'norole', '--role', 'wizard'], {
        databaseUrl: fresh.url,
      })
      expect(role.code).toBe(1)
      expect(role.stderr).toContain('unknown role wizard')
      const unknown = await runCli(['frobnicate'], { databaseUrl: fresh.url })
      expect(unknown.code).toBe(1)
      expect(unknown.stderr).toContain('unknown command')
      const badConfig = await runCli(['migrate'], {
        databaseUrl: fresh.url,
        env: { ACCESS_TOKEN_TTL: 'ten' },
      })
      expect(badConfig.code).toBe(1)
      expect(badConfig.stderr.trim()).toMatch(/^gatehouse: ACCESS_TOKEN_TTL: .*\(got "ten"\)$/)
    })

    /**
     * Black-box audit, item 4: `user create jill --email notanemail` succeeded while the API
     * refused that email with 400 validation_error. Both now hold it to the same rule.
     */
    it.each([
      [['--email', 'notanemail'], 'gatehouse: email: must be an email address\n'],
      [['--email', 'jill@'], 'gatehouse: email: must be an email address\n'],
      [['--phone', '555-0100'], 'gatehouse: phone: must be E.164, e.g. +14155550100\n'],
    ])('refuses a user with %j as the API does', async (contact, message) => {
      const res = await runCli(['user', 'create', 'jill', ...contact, '--password-stdin'], {
        databaseUrl: fresh.url,
        stdin: `${STRONG_PASSWORD}\n`,
      })
      expect(res.code).toBe(1)
      expect(res.stdout).toBe('')
      expect(res.stderr.replace(WHERE_LINE, '')).toBe(message)
      expect((await runCli(['user', 'list'], { databaseUrl: fresh.url })).stdout).not.toContain(
        'jill',
      )
      const t = await startApp(fresh.url)
      try {
        const api = await client(t.app).post<{ code: string }>('/api/auth/register', {
          username: 'jill',
          password: STRONG_PASSWORD,
          [contact[0]!.slice(2)]: contact[1],
        })
        expect(api.status).toBe(400)
        expect(api.body.code).toBe('validation_error')
      } finally {
        await t.close()
      }
    })

    it('rotates signing keys and publishes both', async () => {
      const t = await startApp(fresh.url)
      try {
        const before = (
          await client(t.app).get<{ keys: { kid: string }[] }>('/.well-known/jwks.json')
        ).body.keys
        const res = await runCli(['keys', 'rotate'], { databaseUrl: fresh.url })
        expect(res.code, res.stderr).toBe(0)
        const kid = /new signing key (\S+);/.exec(res.stdout)?.[1]
        expect(kid).toBeDefined()
        t.clock.advance('3s')
        const after = (
          await client(t.app).get<{ keys: { kid: string }[] }>('/.well-known/jwks.json')
        ).body.keys.map((k) => k.kid)
        expect(after).toEqual(expect.arrayContaining([kid, ...before.map((k) => k.kid)]))
      } finally {
        await t.close()
      }
    })

    it('re-encrypts secrets under a new key, after which the old key is no longer needed', async () => {
      const newKey = Buffer.alloc(32, 9).toString('base64')
      const { TEST_SECRET_KEY } = await import('../support/harness.js')
      const rotate = await runCli(['secrets', 'rotate'], {
        databaseUrl: fresh.url,
        env: { GATEHOUSE_SECRET_KEY: newKey, GATEHOUSE_OLD_SECRET_KEYS: TEST_SECRET_KEY },
      })
      expect(rotate.code, rotate.stderr).toBe(0)
      expect(rotate.stdout).toMatch(/re-encrypted [1-9]\d* secrets?/)
      // With only the new key, the service still signs and logs in.
      const t = await startApp(fresh.url, { env: { GATEHOUSE_SECRET_KEY: newKey } })
      try {
        const login = await client(t.app).post('/api/auth/login', {
          username: 'cli-admin',
          password: STRONG_PASSWORD,
        })
        expect(login.status).toBe(200)
      } finally {
        await t.close()
      }
    })
  },
)
