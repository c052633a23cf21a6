import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import bcrypt from 'bcryptjs'
import * as argon2 from 'argon2'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { IMPORT_COLUMNS } from '../../src/services/import/import-file.js'
import { runCli, WHERE_LINE } from '../support/cli.js'
import { startApp, type TestApp } from '../support/harness.js'
import { client, STRONG_PASSWORD, type Client } from '../support/http.js'

/**
 * Runs the real `gatehouse` binary (dist/, built by the global setup when src/ is newer) on a
 * temporary SQLite database, and checks what its changes mean to HTTP clients.
 */
// Each test runs the real binary several times in a row, and each run (a fresh Node process
// loading dist/ and the native addons) takes seconds on a loaded two-core machine: eight of them
// passed the 30 s default. The tests wait on the processes, never on time.
describe('the gatehouse CLI', { timeout: 180_000 }, () => {
  let dir: string
  let databaseUrl: string
  let t: TestApp
  let api: Client

  /** The real binary; stderr without the leading "using database … and the secret key …" line. */
  const gatehouse = async (args: string[], stdin?: string) => {
    const res = await runCli(args, { databaseUrl, stdin })
    return { ...res, stderr: res.stderr.replace(WHERE_LINE, '') }
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-'))
    databaseUrl = `sqlite:${join(dir, 'cli.db')}`
    const migrated = await gatehouse(['migrate'])
    expect(migrated.code, migrated.stderr).toBe(0)
    expect(migrated.stdout).toMatch(/^applied \d+ migrations: 0001-foundation, [^\n]*\n$/)
    // The same database served in-process, to check what the CLI's changes mean to clients.
    t = await startApp(databaseUrl)
    api = client(t.app)
  })
  afterAll(async () => {
    await t.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const login = (username: string, password = STRONG_PASSWORD) =>
    api.post('/api/auth/login', { username, password })

  it('sets roles, locks, unlocks and deletes users by username', async () => {
    const created = await gatehouse(
      ['user', 'create', 'carla', '--password-stdin'],
      `${STRONG_PASSWORD}\n`,
    )
    expect(created.code, created.stderr).toBe(0)

    const roles = await gatehouse(['user', 'roles', 'CARLA', 'admin', 'user'])
    expect(roles).toMatchObject({ code: 0, stdout: 'carla now has the roles admin, user\n' })
    const list = await gatehouse(['user', 'list'])
    expect(list.stdout).toMatch(/\tcarla\t-\tadmin,user\tactive\n/)

    const locked = await gatehouse(['user', 'lock', 'carla'])
    expect(locked.code, locked.stderr).toBe(0)
    expect((await login('carla')).body.code).toBe('account_locked')
    expect((await gatehouse(['user', 'list'])).stdout).toMatch(/\tcarla\t.*\tlocked\n/)

    const unlocked = await gatehouse(['user', 'unlock', 'carla'])
    expect(unlocked).toMatchObject({ code: 0, stdout: 'unlocked carla (lifted: admin lock)\n' })
    expect((await login('carla')).status).toBe(200)
    const events = await t.services.db
      .selectFrom('audit_events')
      .select(['event', 'actor_id'])
      .where('event', 'in', ['account_unlocked', 'user_updated'])
      .execute()
    expect(events.map((e) => e.event)).toContain('account_unlocked')

    // The CLI is the way back in, so it may take the admin role from the last admin.
    const demoted = await gatehouse(['user', 'roles', 'carla', 'user'])
    expect(demoted.code, demoted.stderr).toBe(0)

    const deleted = await gatehouse(['user', 'delete', 'carla'])
    expect(deleted).toMatchObject({ code: 0, stdout: 'deleted carla\n' })
    expect((await login('carla')).body.code).toBe('invalid_credentials')
  })

  it.each([
    [['user', 'lock', 'nobody'], 'no such user nobody'],
    [['user', 'delete', 'nobody'], 'no such user nobody'],
    [['user', 'roles', 'nobody', 'user'], 'no such user nobody'],
    [['user'], '"user" needs a subcommand: '],
    [['user', 'delete'], 'user delete: a username is required'],
    [['user', 'roles', 'nobody'], 'user roles: at least one role is required'],
    [['apikey', 'create', 'svc'], 'apikey create: at least one --scope is required'],
    [['apikey', 'create', 'svc', '--scope', 'admin'], 'unknown scope admin'],
    [['client', 'create'], 'client create: a name is required'],
    [['client', 'create', 'wiki'], 'client create: at least one --redirect-uri is required'],
    [['user', 'list', '--bogus'], 'user list: unknown option --bogus'],
    [['client', 'list', 'extra'], 'client list: unexpected argument "extra"'],
    [['user', 'create', 'x', '--email'], 'user create: --email needs a value'],
    [['user', 'create', 'x', '--totp=yes'], 'user create: --totp takes no value'],
    [['user', 'lock', '-x'], 'user lock: unknown option -x (put -- before a name or id'],
    [['apikey', 'create', '', '--scope', 'totp'], 'name: must be 1 to 128 characters'],
    [['apikey', 'create', 'k', '--scope', 'totp', '--owner', ''], 'owner: must be 1 to 128'],
    [['audit', 'tail', '--limit', '0'], 'audit tail: --limit must be a whole number'],
    [['audit', 'export', '--since', 'yesterday'], 'audit export: --since must be a time'],
    [['apikey', 'revoke', 'missing'], 'no such API key'],
    [['user', 'import', '/nonexistent/users.csv'], 'cannot read /nonexistent/users.csv (ENOENT)'],
    [['frobnicate'], 'unknown command "frobnicate"'],
    // It exits at once: a server started beside the bad option would never return.
    [['serve', '--bogus'], 'serve: unexpected argument "--bogus"'],
    [['serve', 'extra'], 'serve: unexpected argument "extra"'],
  ])('gatehouse %j fails with one clear line', async (args, message) => {
    const run = await gatehouse(args)
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^gatehouse: [^\n]+\n$/)
    expect(run.stderr).toContain(message)
  })

  /**
   * Black-box audit, item 2: `user list --bogus` and `client list extra` exited 0, `keys
   * rotate extra` exited 0 and rotated the keys, and `client create` alone printed three
   * lines of usage. Every command now refuses what it does not take, in one line, exit 1,
   * before it opens the database.
   */
  it.each([
    'migrate',
    'user create',
    'user totp',
    'user list',
    'user lock',
    'user unlock',
    'user delete',
    'user roles',
    'user import',
    'apikey create',
    'apikey list',
    'apikey revoke',
    'keys rotate',
    'secrets rotate',
    'audit tail',
    'audit verify',
    'audit export',
    'client create',
    'client list',
    'client delete',
  ])('gatehouse %s refuses an unknown option and an argument too many', async (name) => {
    const words = name.split(' ')
    const flag = await runCli([...words, 'a', 'b', 'c', '--bogus'], { databaseUrl })
    expect(flag).toMatchObject({ code: 1, stdout: '' })
    // One line: what is wrong, then the command's synopsis.
    const usage = `; usage: gatehouse ${name}[^\\n]*\\n$`
    expect(flag.stderr).toMatch(new RegExp(`^gatehouse: ${name}: unknown option --bogus${usage}`))
    // More arguments than any command takes (`user roles` takes a list of roles).
    if (name !== 'user roles') {
      const many = await runCli([...words, 'one', 'two', 'three'], { databaseUrl })
      expect(many).toMatchObject({ code: 1, stdout: '' })
      expect(many.stderr).toMatch(
        new RegExp(`^gatehouse: ${name}: unexpected argument "\\w+"${usage}`),
      )
    }
    const help = await runCli([...words, '--help'], { databaseUrl })
    expect(help).toMatchObject({ code: 0, stderr: '' })
    expect(help.stdout).toMatch(new RegExp(`^usage: gatehouse ${name}`))
  })

  /**
   * README walk: `user import --help` listed the columns without `email_verified` and
   * `phone_verified`, the two that decide whether an imported person can reset a password.
   */
  it('user import --help names every column the import reads', async () => {
    const help = await gatehouse(['user', 'import', '--help'])
    expect(help.code, help.stderr).toBe(0)
    for (const column of IMPORT_COLUMNS) expect(help.stdout).toMatch(new RegExp(`\\b${column}\\b`))
  })

  it('serve --help prints its usage instead of starting the service', async () => {
    const help = await gatehouse(['serve', '--help'])
    expect(help).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^usage: gatehouse serve/),
    })
  })

  it('keys rotate with an argument too many rotates nothing', async () => {
    const keys = () => t.services.db.selectFrom('signing_keys').select('kid').execute()
    const before = await keys()
    const run = await runCli(['keys', 'rotate', 'extra'], { databaseUrl })
    expect(run).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'gatehouse: keys rotate: unexpected argument "extra"; usage: gatehouse keys rotate\n',
    })
    expect(await keys()).toEqual(before)
  })

  it('refuses an unknown role and changes nothing', async () => {
    await gatehouse(['user', 'create', 'rolf'])
    const run = await gatehouse(['user', 'roles', 'rolf', 'user', 'superuser'])
    expect(run.code).toBe(1)
    expect(run.stderr).toBe('gatehouse: roles: unknown role superuser\n')
    expect((await gatehouse(['user', 'list'])).stdout).toMatch(/\trolf\t-\tuser\tactive\n/)
  })

  it('creates an API key shown once, lists it, and revokes it', async () => {
    const created = await gatehouse([
      'apikey',
      'create',
      'billing-app',
      '--scope',
      'totp',
      '--scope',
      'introspect',
    ])
    expect(created.code, created.stderr).toBe(0)
    const lines = created.stdout.trim().split('\n')
    const key = lines.at(-1)!
    expect(key).toMatch(/^ghk_[A-Za-z0-9_-]{43}$/)
    const id = /created API key (\S+) \(billing-app, owner cli, scopes totp,introspect\)/.exec(
      lines[0]!,
    )![1]!

    const list = await gatehouse(['apikey', 'list'])
    expect(list.stdout).toContain(`${id}\tbilling-app\tcli\ttotp,introspect\t`)
    expect(list.stdout).not.toContain(key)

    let n = 0
    const register = () =>
      api.call('POST', '/api/totp/register', {
        headers: { 'x-api-key': key },
        body: { username: `subject-${n++}` },
      })
    expect((await register()).status).toBe(201)

    const revoked = await gatehouse(['apikey', 'revoke', id])
    expect(revoked.code, revoked.stderr).toBe(0)
    // Another process revoked it: this instance's key cache lets it go within seconds.
    t.clock.advance('6s')
    const refused = await register()
    expect(refused.status).toBe(401)
    expect(refused.body.code).toBe('invalid_api_key')
    expect((await gatehouse(['apikey', 'list'])).stdout).not.toContain(id)

    const owned = await gatehouse([
      'apikey',
      'create',
      'x',
      '--scope',
      'totp',
      '--owner',
      'tenant-q',
    ])
    expect(owned.stdout).toContain('owner tenant-q')
  })

  describe('user import', () => {
    const write = (name: string, text: string) => {
      const path = join(dir, name)
      writeFileSync(path, text)
      return path
    }

    it('imports CSV rows with their password hashes and reports skipped and rejected lines', async () => {
      const bcryptHash = bcrypt.hashSync('old bcrypt password', 4).replace(/^\$2b\$/, '$2y$')
      const argonHash = await argon2.hash('old argon2 password', {
        type: argon2.argon2id,
        memoryCost: 1024,
        timeCost: 1,
      })
      await gatehouse(['user', 'create', 'already-here'])
      await t.services.roleAdmin.create(
        { name: 'editor', permissions: ['products:write'] },
        { actorId: null },
      )
      const csv = write(
        'users.csv',
        [
          'username,email,password_hash,roles,legacy_id',
          `ivan,ivan@example.com,${bcryptHash},user;editor,17`,
          `"judy","Judy@Example.com","${argonHash}",,18`,
          'already-here,,,,19',
          'bad name!,,,,20',
          'kate,not-an-email,,,21',
          'leo,leo@example.com,,superuser,22',
          '',
          'mia,,plaintext-password,,23',
          'ivan,,,,24',
          '"nora","nora@example.com",,"user",25',
        ].join('\n'),
      )

      const first = await gatehouse(['user', 'import', csv])
      expect(first.code).toBe(1)
      expect(first.stdout.split('\n')).toEqual([
        'warning: line 1: ignoring unknown column "legacy_id"',
        'line 4: skipped: already-here already exists',
        'line 5: rejected: username may contain only letters A-Z, digits and the characters . _ -',
        'line 6: rejected: email: must be an email address',
        'line 7: rejected: roles: unknown role superuser',
        'line 9: rejected: password_hash: must be a bcrypt, argon2, PBKDF2 or scrypt hash',
        'line 10: rejected: username: same as line 2',
        'imported 3, skipped 1, rejected 5',
        '',
      ])
      expect(first.stdout + first.stderr).not.toContain(bcryptHash)

      // Imported users log in with their old passwords (rehashed to argon2id on the way).
      const ivan = await login('ivan', 'old bcrypt password')
      expect(ivan.status).toBe(200)
      expect(ivan.body.user).toMatchObject({
        email: 'ivan@example.com',
        roles: ['editor', 'user'],
      })
      expect((await login('Judy@example.com', 'old argon2 password')).status).toBe(200)
      expect((await login('nora', 'anything at all here')).status).toBe(401)
      // Rejected rows left nothing behind.
      for (const name of ['kate', 'leo', 'mia']) {
        const found = await t.services.db
          .selectFrom('users')
          .select('id')
          .where('username_normalized', '=', name)
          .executeTakeFirst()
        expect(found).toBeUndefined()
      }

      const again = await gatehouse(['user', 'import', csv])
      expect(again.code).toBe(1)
      // Issue 10, item 8: the report listed every skipped row before every rejected one; it
      // now follows the file's line order.
      expect(again.stdout.split('\n')).toEqual([
        'warning: line 1: ignoring unknown column "legacy_id"',
        'line 2: skipped: ivan already exists',
        'line 3: skipped: judy already exists',
        'line 4: skipped: already-here already exists',
        'line 5: rejected: username may contain only letters A-Z, digits and the characters . _ -',
        'line 6: rejected: email: must be an email address',
        'line 7: rejected: roles: unknown role superuser',
        'line 9: rejected: password_hash: must be a bcrypt, argon2, PBKDF2 or scrypt hash',
        'line 10: rejected: username: same as line 2',
        'line 11: skipped: nora already exists',
        'imported 0, skipped 4, rejected 5',
        '',
      ])
    })

    it("takes over Werkzeug's, passlib's and Django's hashes and refuses a cost no login may spend", async () => {
      // Written by Werkzeug 3.1.8 (Flask's generate_password_hash) and in passlib's and
      // Django's formats by Python's hashlib, all of 'correct horse battery stäple'.
      const python = {
        wanda:
          'pbkdf2:sha256:1000$Be0uN1vqEcawV9oa$42e7962eb7d8b49a955f2c25e6c6e4a86b629fa65763c5bf7cec915fdfb9bf1b',
        xavi: 'scrypt:16384:8:1$ILCYVjW4B9aj7Nxz$ce32685f549cf586e617ac51e4e35ae4974ef52a33c7470bba5182dfff735548302ca341f75b394b764167a1cbdb9c535976b38edd455700c1f1a3f3fdebef2a',
        yusuf:
          '$pbkdf2-sha256$29000$jx4tPEtaaXiHlqW0w9Lh8A$S89Yoh7K90D9JHLzSdNLrfucovYRiMQ.SuJLv420los',
        zora: 'pbkdf2_sha256$870000$q1w2e3r4t5y6u7i8o9p0as$H2Ld1pgoOU5RhQfhrbxvZdXignFCVrcf9qgRSZwn9x4=',
      }
      const rows = Object.entries(python).map(([username, password_hash]) =>
        JSON.stringify({ username, password_hash }),
      )
      rows.push(
        JSON.stringify({
          username: 'greedy',
          password_hash: '$argon2id$v=19$m=4194304,t=3,p=4$c29tZXNhbHQ$aGFzaA',
        }),
      )
      const run = await gatehouse(['user', 'import', write('python.jsonl', rows.join('\n'))])
      expect(run.stdout.split('\n')).toEqual([
        'line 5: rejected: password_hash: argon2 memory above 2097152 KiB',
        'imported 4, skipped 0, rejected 1',
        '',
      ])
      for (const username of Object.keys(python)) {
        const res = await login(username, 'correct horse battery stäple')
        expect(res.status, username).toBe(200)
        expect((await login(username, 'correct horse battery staple')).status).toBe(401)
      }
      // Rehashed to argon2id at the first login.
      const stored = await t.services.db
        .selectFrom('users')
        .select('password_hash')
        .where('username_normalized', 'in', Object.keys(python))
        .execute()
      expect(stored.map((r) => r.password_hash!.slice(0, 10))).toEqual(Array(4).fill('$argon2id$'))
    })

    it('imports JSON Lines and exits 0 when nothing is rejected', async () => {
      const hash = bcrypt.hashSync('jsonl password!', 4)
      const file = write(
        'users.jsonl',
        [
          JSON.stringify({
            username: 'olga',
            email: 'olga@example.com',
            phone: '+14155550111',
            password_hash: hash,
            roles: ['user'],
          }),
          '',
          JSON.stringify({ username: 'pete', roles: 'user', unknown_member: 'ignored' }),
        ].join('\n') + '\n',
      )
      const run = await gatehouse(['user', 'import', file])
      expect(run).toMatchObject({ code: 0, stdout: 'imported 2, skipped 0, rejected 0\n' })
      const olga = await login('olga', 'jsonl password!')
      expect(olga.body.user).toMatchObject({
        phone: '+14155550111',
        phone_verified: false,
        email_verified: false,
      })
    })

    it('rejects bad JSON lines by line number', async () => {
      const file = write(
        'bad.jsonl',
        ['{"username":"quinn"}', '{not json', '[1,2]', '{"username":7}'].join('\n'),
      )
      const run = await gatehouse(['user', 'import', file])
      expect(run.code).toBe(1)
      expect(run.stdout).toContain('line 2: rejected: not valid JSON')
      expect(run.stdout).toContain('line 3: rejected: not a JSON object')
      expect(run.stdout).toContain('line 4: rejected: username: must be a string')
      expect(run.stdout).toContain('imported 1, skipped 0, rejected 3')
    })

    it('refuses a CSV file without a username column and imports nothing', async () => {
      const file = write('nouser.csv', 'email\nx@example.com\n')
      const run = await gatehouse(['user', 'import', file])
      expect(run.code).toBe(1)
      expect(run.stderr).toContain('line 1: the header needs a username column; nothing imported')
    })
  })
})
