import { describe, expect, it } from 'vitest'
import { userCreate, userTotp } from '../../src/cli/commands/user.js'
import type { CliContext } from '../../src/cli/context.js'
import { testDatabases } from '../support/databases.js'
import { failingWrites } from '../support/failing-writes.js'
import { useTestApp } from '../support/harness.js'
import { client, STRONG_PASSWORD, type Tokens } from '../support/http.js'
import { appCode } from '../support/totp.js'

const databases = await testDatabases()
/** The audit event an admin's reset-mfa writes with the removal. */
const reset = (userId: string) => ({ event: 'mfa_reset', outcome: 'success', userId }) as const

describe.each(databases)('CLI TOTP enrolment on $name', (database) => {
  const { t } = useTestApp(database)

  async function run(command: typeof userCreate, args: string[], stdin = ''): Promise<string[]> {
    const lines: string[] = []
    const ctx: CliContext = {
      args,
      out: (line) => lines.push(line),
      readStdin: () => Promise.resolve(stdin),
      services: () => Promise.resolve(t.services),
      config: t.config,
    }
    await command.run(ctx)
    return lines
  }

  function printed(lines: string[]) {
    const secret = /^secret: +([A-Z2-7]+)$/m.exec(lines.join('\n'))?.[1]
    const url = /^otpauth URL: +(\S+)$/m.exec(lines.join('\n'))?.[1]
    return { secret: secret!, url: url! }
  }

  it('creates a user with --totp and prints the secret, the URL and a terminal QR code', async () => {
    const lines = await run(
      userCreate,
      ['cli-alice', '--password-stdin', '--totp', '--email', 'cli-alice@example.com'],
      `${STRONG_PASSWORD}\n`,
    )
    const { secret, url } = printed(lines)
    expect(secret).toMatch(/^[A-Z2-7]{32}$/)
    expect(url).toBe(
      `otpauth://totp/Gatehouse:cli-alice?secret=${secret}&issuer=Gatehouse&algorithm=SHA1&digits=6&period=30`,
    )
    // The small terminal renderer draws with half blocks.
    const qr = lines.join('\n')
    expect(qr).toMatch(/[▀▄█]/)
    expect(qr.split('\n').length).toBeGreaterThan(15)

    const api = client(t.app)
    const challenge = await api.post('/api/auth/login', {
      username: 'cli-alice',
      password: STRONG_PASSWORD,
    })
    expect(challenge.body).toMatchObject({ mfa_required: true, mfa_methods: ['totp'] })
    const tokens = await api.post<Tokens>('/api/auth/login/verify', {
      mfa_token: challenge.body.mfa_token,
      code: appCode(url, t.clock),
    })
    expect(tokens.status).toBe(200)
  })

  it('re-enrols with `user totp`: the old secret stops working', async () => {
    const before = printed(await run(userTotp, ['cli-alice']))
    t.clock.advance('30s')
    const after = printed(await run(userTotp, ['CLI-Alice']))
    expect(after.secret).not.toBe(before.secret)
    const api = client(t.app)
    const login = (otp: string) =>
      api.post('/api/auth/login', { username: 'cli-alice', password: STRONG_PASSWORD, otp })
    expect((await login(appCode(before.secret, t.clock))).status).toBe(401)
    expect((await login(appCode(after.secret, t.clock))).status).toBe(200)
  })

  it('fails with one clear error for an unknown user or missing argument', async () => {
    await expect(run(userTotp, ['nobody-here'])).rejects.toThrow('no such user nobody-here')
    await expect(run(userTotp, [])).rejects.toThrow(/usage: gatehouse user totp <username>/)
  })
})

describe.each(databases)('hand-over points for import and admin reset on $name', (database) => {
  const { t } = useTestApp(database)

  it('writes an imported authenticator secret inside the creating transaction', async () => {
    const api = client(t.app)
    const id = await t.services.accounts.create({ username: 'imported', password: STRONG_PASSWORD })
    // RFC 6238's seed, as `user import` hands it over: raw bytes.
    const secret = Buffer.from('12345678901234567890')
    await t.services.db
      .transaction()
      .execute((trx) => t.services.totp.writeImported(trx, { id, username: 'imported' }, secret, 0))
    const res = await api.post('/api/auth/login', {
      username: 'imported',
      password: STRONG_PASSWORD,
      otp: appCode('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', t.clock),
    })
    expect(res.status).toBe(200)
  })

  it('lists users with the same mfa summary as each profile shows', async () => {
    const page = await t.services.userDirectory.list({ limit: 100 })
    expect(page.items.length).toBeGreaterThanOrEqual(1)
    for (const user of page.items) expect(user.mfa).toEqual(await t.services.mfaSummary(user.id))
    expect(page.items.find((u) => u.username === 'imported')?.mfa.totp).toBe(true)
  })

  it('removes every factor and backup code for an admin reset', async () => {
    const api = client(t.app)
    const id = await t.services.accounts.create({
      username: 'reset-me',
      password: STRONG_PASSWORD,
      email: 'reset-me@example.com',
    })
    await t.services.db
      .updateTable('users')
      .set({ email_verified_at: 1 })
      .where('id', '=', id)
      .execute()
    await t.services.totp.enrolDirectly(id, 'reset-me')
    const who = { userId: id, username: 'reset-me', amr: ['pwd', 'mfa', 'otp'] }
    await t.services.mfa.channelEnable(who, 'email')
    await t.services.mfa.regenerateBackupCodes(who, STRONG_PASSWORD, {
      ip: null,
      userAgent: null,
    })
    expect(await t.services.mfaSummary(id)).toMatchObject({
      totp: true,
      email: true,
      backupCodesRemaining: 10,
    })
    const listed = await t.services.userDirectory.list({ limit: 100, q: 'reset-me' })
    expect(listed.items[0]!.mfa).toEqual({
      totp: true,
      webauthn: 0,
      email: true,
      sms: false,
      backupCodesRemaining: 10,
    })
    await t.services.mfa.removeAll(id, reset(id))
    expect(await t.services.mfaSummary(id)).toEqual({
      totp: false,
      webauthn: 0,
      email: false,
      sms: false,
      backupCodesRemaining: 0,
    })
    const login = await api.post('/api/auth/login', {
      username: 'reset-me',
      password: STRONG_PASSWORD,
    })
    expect(login.body).toHaveProperty('access_token')
  })

  it('an admin reset ends the second steps waiting for the factors it removed', async () => {
    const api = client(t.app)
    const id = await t.services.accounts.create({ username: 'waiting', password: STRONG_PASSWORD })
    const { secret } = await t.services.totp.enrolDirectly(id, 'waiting')
    const challenge = await api.post('/api/auth/login', {
      username: 'waiting',
      password: STRONG_PASSWORD,
    })
    expect(challenge.body).toMatchObject({ mfa_required: true })
    await t.services.mfa.removeAll(id, reset(id))
    // Not "wrong code" for a right code: the step itself is over, and the client starts again.
    const verify = await api.post('/api/auth/login/verify', {
      mfa_token: challenge.body.mfa_token,
      code: appCode(secret, t.clock),
    })
    expect(verify.status).toBe(401)
    expect(verify.body.code).toBe('invalid_token')
  })

  it('an admin reset that fails half way removes nothing, and works when tried again', async () => {
    const id = await t.services.accounts.create({
      username: 'half-reset',
      password: STRONG_PASSWORD,
    })
    await t.services.totp.enrolDirectly(id, 'half-reset')
    const who = { userId: id, username: 'half-reset', amr: ['pwd', 'mfa', 'otp'] }
    await t.services.mfa.regenerateBackupCodes(who, STRONG_PASSWORD, { ip: null, userAgent: null })
    const enrolled = { totp: true, backupCodesRemaining: 10 }
    expect(await t.services.mfaSummary(id)).toMatchObject(enrolled)

    // The backup codes go after the TOTP secret: when deleting them fails, the secret
    // removed before must come back.
    const restore = await failingWrites(t.services.db, 'backup_codes', 'delete')
    try {
      await expect(t.services.mfa.removeAll(id, reset(id))).rejects.toThrow()
    } finally {
      await restore()
    }
    expect(await t.services.mfaSummary(id)).toMatchObject(enrolled)

    await t.services.mfa.removeAll(id, reset(id))
    expect(await t.services.mfaSummary(id)).toMatchObject({ totp: false, backupCodesRemaining: 0 })
  })
})
