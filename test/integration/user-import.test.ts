import { describe, expect, it } from 'vitest'
import { GatehouseError } from '../../src/services/errors.js'
import { createUserImport, type ImportedTotpWriter } from '../../src/services/import/user-import.js'
import { cryptoRandom } from '../../src/crypto/random.js'
import { base32 } from '../../src/services/totp-service/totp-code.js'
import { testDatabases } from '../support/databases.js'
import { useTestApp } from '../support/harness.js'

const databases = await testDatabases()

/**
 * The import service on every database, with a stand-in for the second-factor service's TOTP
 * writer: it must run inside the row's transaction, so a refused secret leaves no user behind.
 */
describe.each(databases)('user import on $name', (database) => {
  const { t } = useTestApp(database)
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
})
