import { describe, expect, it } from 'vitest'
import { GatehouseError } from '../../src/services/errors.js'
import { createUserImport, type ImportedTotpWriter } from '../../src/services/import/user-import.js'
import { cryptoRandom } from '../../src/crypto/random.js'
import { base32Of } from '../../src/services/mfa/totp.js'
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
    written.push({ username: user.username, secret: base32Of(secret) })
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

  /**
   * Regression: import trimmed the whitespace around an email or phone (a padded column of an
   * export) while the API's register refused the same value as validation_error, so one person
   * could get in one way and not the other. Every way in now trims it, stores the address the
   * same, and still refuses whitespace inside one.
   */
  it('trims whitespace around an email or phone on every way in, and refuses it inside', async () => {
    const jsonl = [
      JSON.stringify({ username: 'padded-imp', email: ' Padded.Imp@example.com\t' }),
      JSON.stringify({ username: 'padded-imp-phone', phone: ' +14155550171 ' }),
      JSON.stringify({ username: 'inner-imp', email: 'inner imp@example.com' }),
    ].join('\n')
    const fromJson = await importer().run(jsonl)
    expect(fromJson.rejected).toEqual([{ line: 3, reason: 'email: must be an email address' }])
    const csv = 'username,email,phone\npadded-csv,"  padded.csv@example.com ", +14155550172\n'
    expect((await importer().run(csv)).imported).toBe(1)

    const registered = await api.post<{ user: { email: string; phone: string } }>(
      '/api/auth/register',
      {
        username: 'padded-api',
        password: STRONG_PASSWORD,
        email: ' padded.api@example.com\n',
        phone: '\t+14155550173 ',
      },
    )
    expect(registered.status).toBe(201)
    expect(registered.body.user).toMatchObject({
      email: 'padded.api@example.com',
      phone: '+14155550173',
    })
    await t.services.accounts.create({ username: 'padded-acc', email: '  padded.acc@example.com ' })

    const stored = await t.services.db
      .selectFrom('users')
      .select(['username', 'email', 'email_normalized', 'phone'])
      .where('username', 'like', 'padded-%')
      .orderBy('username')
      .execute()
    expect(stored.map((u) => [u.username, u.email, u.email_normalized, u.phone])).toEqual([
      ['padded-acc', 'padded.acc@example.com', 'padded.acc@example.com', null],
      ['padded-api', 'padded.api@example.com', 'padded.api@example.com', '+14155550173'],
      ['padded-csv', 'padded.csv@example.com', 'padded.csv@example.com', '+14155550172'],
      ['padded-imp', 'Padded.Imp@example.com', 'padded.imp@example.com', null],
      ['padded-imp-phone', null, null, '+14155550171'],
    ])

    // The trimmed address is the one taken: a padded copy through the API is a conflict.
    const again = await api.post('/api/auth/register', {
      username: 'padded-again',
      password: STRONG_PASSWORD,
      email: ' padded.imp@EXAMPLE.com ',
    })
    expect([again.status, again.body.code]).toEqual([409, 'conflict'])
    // And the person signs in with the address as it was meant.
    const login = await api.post('/api/auth/login', {
      username: 'padded.api@example.com',
      password: STRONG_PASSWORD,
    })
    expect(login.status).toBe(200)

    for (const [email, phone] of [
      ['inner api@example.com', undefined],
      ['   ', undefined],
      [undefined, '+1 415 555 0174'],
    ]) {
      const refused = await api.post('/api/auth/register', {
        username: 'padded-refused',
        password: STRONG_PASSWORD,
        ...(email === undefined ? {} : { email }),
        ...(phone === undefined ? {} : { phone }),
      })
      expect([refused.status, refused.body.code], JSON.stringify({ email, phone })).toEqual([
        400,
        'validation_error',
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
