import { describe, expect, it } from 'vitest'
import { GatehouseError } from '../../src/services/errors.js'
import { createUserImport, type ImportedTotpWriter } from '../../src/services/import/user-import.js'
import { cryptoRandom } from '../../src/crypto/random.js'
import { base32 } from '../../src/services/totp-service/totp-code.js'
import { testDatabases } from '../support/databases.js'
import { useTestApp } from '../support/harness.js'
import { STRONG_PASSWORD } from '../support/http.js'

const databases = await testDatabases()

/**
 * The import service on every database, with a stand-in for the second-factor service's TOTP
 * writer: it must run inside the row's transaction, so a refused secret leaves no user behind.
 */
describe.each(databases)('user import on $name', (database) => {
  const { t, api } = useTestApp(database)
  const written: { username: string; secret: string }[] = []

  const writer: ImportedTotpWriter = async (trx, user, secret) => {
    // Proves the writer shares the transaction: it sees the user row not yet committed.
    const row = await trx
      .selectFrom('users')
      .select('id')
      .where('id', '=', user.id)
      .executeTakeFirst()
    if (!row) throw new Error('writer ran outside the import transaction')
    if (user.username === 'refused') throw new GatehouseError('conflict', { detail: 'no thanks' })
    written.push({ username: user.username, secret: base32(secret) })
  }

  const importer = () =>
    createUserImport({
      db: t.services.db,
      clock: t.clock,
      random: cryptoRandom,
      audit: t.services.audit,
      totpWriter: writer,
    })

  it('hands base32 TOTP secrets to the writer and rolls back a row it refuses', async () => {
    const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP'
    const text = [
      'username,totp_secret',
      `tina,${secret.toLowerCase().replace(/(.{4})/g, '$1 ')}`,
      `refused,${secret}`,
      'short,JBSWY3DP',
      'notbase32,0189!!',
    ].join('\n')
    const report = await importer().run(text)
    expect(report.imported).toBe(1)
    expect(report.rejected).toEqual([
      { line: 3, reason: 'totp_secret: no thanks' },
      { line: 4, reason: 'totp_secret: must be a base32 secret of 80 to 512 bits' },
      { line: 5, reason: 'totp_secret: must be a base32 secret of 80 to 512 bits' },
    ])
    expect(written).toEqual([{ username: 'tina', secret }])
    const refused = await t.services.db
      .selectFrom('users')
      .select('id')
      .where('username_normalized', '=', 'refused')
      .executeTakeFirst()
    expect(refused).toBeUndefined()
    const audit = await t.services.db
      .selectFrom('audit_events')
      .select('details')
      .where('event', '=', 'register')
      .execute()
    expect(audit.map((a) => JSON.parse(a.details!))).toEqual([
      { via: 'import', password: false, totp: true },
    ])
    expect(JSON.stringify(audit)).not.toContain(secret)
  })

  it('rejects a row whose email belongs to another account', async () => {
    await t.services.accounts.create({ username: 'owner', email: 'taken@example.com' })
    const report = await importer().run('username,email\nsomeone,TAKEN@example.com\n')
    expect(report.rejected).toEqual([
      { line: 2, reason: 'email: already belongs to another account' },
    ])
  })

  /**
   * Issue 9 item 11: `user import` had no way to say that the old service had verified a
   * contact, so every imported user had none, and password resets (which go only to a
   * verified contact, SPEC §4.1) reached nobody.
   */
  /**
   * Regression: import checked emails with its own looser pattern (`a..b@example.com`,
   * `ü@example.com` and `a@[127.0.0.1]` got in) and accounts.create with TypeBox's
   * (`a@localhost` and quoted local parts got in), while the API refused all of them. Every
   * way in now applies the one rule, and import reports a refused email on its row.
   */
  it('refuses, row by row, every email the API refuses, and only those', async () => {
    // `%` becomes a three-letter tag for each way in, so that the addresses never collide.
    const emails: [string, boolean][] = [
      ['ok.name+%@example.com', true],
      ["o'brien.%@mail.example.co.uk", true],
      ['a..b%@example.com', false],
      ['.a%@example.com', false],
      ['ü%@example.com', false],
      ['a%@[127.0.0.1]', false],
      ['a%@b_c.com', false],
      ['a,b%@example.com', false],
      ['a%@localhost', false],
      ['"q r%"@example.com', false],
      [`${'a'.repeat(61)}%@${'b'.repeat(186)}.com`, false], // 255 characters
    ]
    const tagged = (email: string, tag: 'imp' | 'api' | 'acc') => email.replace('%', tag)
    const jsonl = emails
      .map(([email], i) =>
        JSON.stringify({ username: `imported-${i}`, email: tagged(email, 'imp') }),
      )
      .join('\n')
    const report = await importer().run(jsonl)
    expect(report.rejected).toEqual(
      emails.flatMap(([, ok], i) =>
        ok ? [] : [{ line: i + 1, reason: 'email: must be an email address' }],
      ),
    )
    expect(report.imported).toBe(emails.filter(([, ok]) => ok).length)

    for (const [i, [email, ok]] of emails.entries()) {
      const registered = await api.post<{ code?: string }>('/api/auth/register', {
        username: `registered-${i}`,
        password: STRONG_PASSWORD,
        email: tagged(email, 'api'),
      })
      expect([email, registered.status], 'API').toEqual([email, ok ? 201 : 400])
      if (!ok) expect(registered.body.code).toBe('validation_error')
      const created = await t.services.accounts
        .create({ username: `created-${i}`, email: tagged(email, 'acc') })
        .then(
          () => 'created',
          (err: unknown) => (err instanceof GatehouseError ? err.code : String(err)),
        )
      expect([email, created], 'accounts.create').toEqual([
        email,
        ok ? 'created' : 'validation_error',
      ])
    }
  })

  it('takes email_verified / phone_verified from CSV and JSON Lines; resets use only those', async () => {
    const csv = [
      'username,email,email_verified,phone,phone_verified',
      'verified-mail,vm@example.com,TRUE,+14155550101,false',
      'unverified-mail,um@example.com,,+14155550102,',
      'bad-flag,bf@example.com,yes,,',
      'no-mail,,true,,',
    ].join('\n')
    const report = await importer().run(csv)
    expect(report.imported).toBe(2)
    expect(report.rejected).toEqual([
      { line: 4, reason: 'email_verified: must be true or false' },
      { line: 5, reason: 'email_verified: there is no email' },
    ])
    const jsonl = [
      JSON.stringify({ username: 'json-phone', phone: '+14155550103', phone_verified: true }),
      JSON.stringify({ username: 'json-plain', email: 'jp@example.com', email_verified: false }),
    ].join('\n')
    expect((await importer().run(jsonl)).imported).toBe(2)

    const users = await t.services.db
      .selectFrom('users')
      .select(['username', 'email_verified_at', 'phone_verified_at'])
      .where('username', 'in', ['verified-mail', 'unverified-mail', 'json-phone', 'json-plain'])
      .orderBy('username')
      .execute()
    expect(
      users.map((u) => [u.username, u.email_verified_at !== null, u.phone_verified_at !== null]),
    ).toEqual([
      ['json-phone', false, true],
      ['json-plain', false, false],
      ['unverified-mail', false, false],
      ['verified-mail', true, false],
    ])

    // SPEC §4.1: the verified email, else the verified phone, else nothing; always 202 {}.
    const sentTo = async (username: string) => {
      const before = t.logs.length
      const res = await api.post('/api/auth/password/forgot', { username })
      expect([res.status, res.body]).toEqual([202, {}])
      await t.services.passwordReset.idle()
      return t.logs
        .slice(before)
        .map((line) => /"to":"([^"]+)"/.exec(line)?.[1])
        .filter((to) => to !== undefined)
    }
    expect(await sentTo('verified-mail')).toEqual(['vm@example.com'])
    expect(await sentTo('json-phone')).toEqual(['+14155550103'])
    expect(await sentTo('unverified-mail')).toEqual([])
    expect(await sentTo('json-plain')).toEqual([])
  })
})
