import QRCode from 'qrcode'
import { describe, expect, it } from 'vitest'
import { testDatabases } from '../support/databases.js'
import { createSecretBox } from '../../src/crypto/secret-box.js'
import { startApp, TEST_SECRET_KEY, useTestApp } from '../support/harness.js'
import { client, registerAndLogin, STRONG_PASSWORD, type Tokens } from '../support/http.js'
import { appCode } from '../support/totp.js'
import { createMfaTokens } from '../../src/services/mfa/mfa-tokens.js'
import { cryptoRandom } from '../../src/crypto/random.js'

const databases = await testDatabases()

interface MfaChallenge {
  mfa_required: true
  mfa_token: string
  mfa_methods: string[]
  expires_in: number
}

function claimsOf(accessToken: string): { amr: string[]; sub: string } {
  return JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString('utf8'))
}

describe.each(databases)('TOTP and backup codes on $name', (database) => {
  // Many wrong codes on purpose here: throttling has its own suites (login-throttling).
  const { t, api } = useTestApp(database, {
    env: { LOGIN_MAX_FAILURES: '1000', LOCKOUT_THRESHOLD: '1000' },
  })

  /** setup → scan → confirm; the clock then moves on a step so the next code is fresh. */
  async function enableTotp(token: string) {
    const setup = await api.post<{ secret: string; otpauth_url: string; qr_code: string }>(
      '/api/auth/2fa/totp/setup',
      undefined,
      token,
    )
    expect(setup.status).toBe(200)
    const enable = await api.post<{ backup_codes: string[] }>(
      '/api/auth/2fa/totp/enable',
      { code: appCode(setup.body.otpauth_url, t.clock) },
      token,
    )
    expect(enable.status).toBe(200)
    t.clock.advance('30s')
    return { ...setup.body, backupCodes: enable.body.backup_codes }
  }

  async function userWithTotp(username: string) {
    const tokens = await registerAndLogin(api, username)
    return { tokens, ...(await enableTotp(tokens.access_token)) }
  }

  async function passwordStep(username: string): Promise<MfaChallenge> {
    const res = await api.post<MfaChallenge>('/api/auth/login', {
      username,
      password: STRONG_PASSWORD,
    })
    expect(res.status).toBe(200)
    expect(res.body.mfa_required).toBe(true)
    return res.body
  }

  it('walks setup → scan → verify → logout → login with password and code', async () => {
    const tokens = await registerAndLogin(api, 'walker')
    const setup = await api.post('/api/auth/2fa/totp/setup', undefined, tokens.access_token)
    expect(setup.status).toBe(200)
    const secret = setup.body.secret as string
    expect(secret).toMatch(/^[A-Z2-7]{32}$/)
    expect(setup.body.otpauth_url).toBe(
      `otpauth://totp/Gatehouse:walker?secret=${secret}&issuer=Gatehouse&algorithm=SHA1&digits=6&period=30`,
    )
    const qr = setup.body.qr_code as string
    expect(qr).toMatch(/^data:image\/png;base64,/)
    const png = Buffer.from(qr.slice('data:image/png;base64,'.length), 'base64')
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG')
    // The QR encoder is deterministic: the same image from the URL proves what the phone reads.
    expect(qr).toBe(
      await QRCode.toDataURL(setup.body.otpauth_url as string, { errorCorrectionLevel: 'M' }),
    )

    // Not on until confirmed.
    let me = await api.get('/api/auth/me', tokens.access_token)
    expect(me.body.mfa).toMatchObject({ totp: false, backup_codes_remaining: 0 })
    const still = await api.post('/api/auth/login', {
      username: 'walker',
      password: STRONG_PASSWORD,
    })
    expect(still.body).toHaveProperty('access_token')

    const enable = await api.post<{ backup_codes: string[] }>(
      '/api/auth/2fa/totp/enable',
      { code: appCode(secret, t.clock) },
      tokens.access_token,
    )
    expect(enable.status).toBe(200)
    expect(enable.body.backup_codes).toHaveLength(10)
    expect(new Set(enable.body.backup_codes).size).toBe(10)
    me = await api.get('/api/auth/me', tokens.access_token)
    expect(me.body.mfa).toEqual({
      totp: true,
      webauthn: 0,
      email: false,
      sms: false,
      backup_codes_remaining: 10,
    })

    expect((await api.post('/api/auth/logout', undefined, tokens.access_token)).status).toBe(204)
    t.clock.advance('30s')
    const challenge = await passwordStep('walker')
    expect(challenge).toEqual({
      mfa_required: true,
      mfa_token: expect.any(String),
      mfa_methods: ['totp', 'backup_code'],
      expires_in: 300,
    })
    const verified = await api.post<Tokens>('/api/auth/login/verify', {
      mfa_token: challenge.mfa_token,
      code: appCode(secret, t.clock),
    })
    expect(verified.status).toBe(200)
    expect(claimsOf(verified.body.access_token).amr).toEqual(['pwd', 'mfa', 'otp'])
    expect(verified.body.user.username).toBe('walker')

    // The secret is shown once, at setup: never in a later response or any log line.
    expect(JSON.stringify(verified.body)).not.toContain(secret)
    expect(
      JSON.stringify((await api.get('/api/auth/me', verified.body.access_token)).body),
    ).not.toContain(secret)
    expect(t.logs.join('\n')).not.toContain(secret)
    const audit = await t.services.db.selectFrom('audit_events').selectAll().execute()
    expect(audit.map((e) => e.event)).toEqual(
      expect.arrayContaining(['mfa_enabled', 'mfa_succeeded', 'login_succeeded']),
    )
    expect(JSON.stringify(audit)).not.toContain(secret)
  })

  it('stores the secret encrypted, bound to its row', async () => {
    const { secret, tokens } = await userWithTotp('sealed-secret')
    const row = await t.services.db
      .selectFrom('totp_secrets')
      .selectAll()
      .where('user_id', '=', tokens.user.id)
      .executeTakeFirstOrThrow()
    expect(row.secret_sealed).toMatch(/^v1\./)
    expect(row.secret_sealed).not.toContain(secret)
    expect(() =>
      t.services.box.open(row.secret_sealed, 'totp_secrets.secret_sealed:other'),
    ).toThrow()
  })

  it('logs in with password and otp in one call; a wrong otp is invalid_code', async () => {
    const { secret } = await userWithTotp('one-call')
    const wrong = await api.post('/api/auth/login', {
      username: 'one-call',
      password: STRONG_PASSWORD,
      otp: '000000' === appCode(secret, t.clock) ? '111111' : '000000',
    })
    expect(wrong.status).toBe(401)
    expect(wrong.body.code).toBe('invalid_code')
    const ok = await api.post<Tokens>('/api/auth/login', {
      username: 'one-call',
      password: STRONG_PASSWORD,
      otp: appCode(secret, t.clock),
    })
    expect(ok.status).toBe(200)
    expect(claimsOf(ok.body.access_token).amr).toEqual(['pwd', 'mfa', 'otp'])
    // A wrong password with a right otp is still a wrong password.
    t.clock.advance('30s')
    const badPassword = await api.post('/api/auth/login', {
      username: 'one-call',
      password: 'not the password at all',
      otp: appCode(secret, t.clock),
    })
    expect(badPassword.body.code).toBe('invalid_credentials')
  })

  it('gives amr ["pwd"] to a user without a second factor, ignoring an otp', async () => {
    await registerAndLogin(api, 'no-factor')
    const res = await api.post<Tokens>('/api/auth/login', {
      username: 'no-factor',
      password: STRONG_PASSWORD,
      otp: '123456',
    })
    expect(res.status).toBe(200)
    expect(claimsOf(res.body.access_token).amr).toEqual(['pwd'])
  })

  it('accepts a code one step either side, not two', async () => {
    const { secret } = await userWithTotp('drift')
    // Step back from the step that confirmed enable, which can never be used again.
    t.clock.advance('60s')
    for (const [offset, status] of [
      [-2, 401],
      [2, 401],
      [-1, 200],
    ] as const) {
      const challenge = await passwordStep('drift')
      const res = await api.post('/api/auth/login/verify', {
        mfa_token: challenge.mfa_token,
        code: appCode(secret, t.clock, offset),
      })
      expect(res.status).toBe(status)
    }
    // The step after the one just accepted.
    const challenge = await passwordStep('drift')
    const ahead = await api.post('/api/auth/login/verify', {
      mfa_token: challenge.mfa_token,
      code: appCode(secret, t.clock, 1),
    })
    expect(ahead.status).toBe(200)
    // Now the current step is not later than the last accepted one: refused.
    const behind = await api.post('/api/auth/login/verify', {
      mfa_token: (await passwordStep('drift')).mfa_token,
      code: appCode(secret, t.clock),
    })
    expect(behind.status).toBe(401)
    expect(behind.body.code).toBe('invalid_code')
  })

  it('never accepts a code twice, also not the one that confirmed enable', async () => {
    const tokens = await registerAndLogin(api, 'replayer')
    const setup = await api.post('/api/auth/2fa/totp/setup', undefined, tokens.access_token)
    const code = appCode(setup.body.secret as string, t.clock)
    await api.post('/api/auth/2fa/totp/enable', { code }, tokens.access_token)
    const replayEnable = await api.post('/api/auth/login/verify', {
      mfa_token: (await passwordStep('replayer')).mfa_token,
      code,
    })
    expect(replayEnable.status).toBe(401)
    expect(replayEnable.body.code).toBe('invalid_code')

    t.clock.advance('30s')
    const fresh = appCode(setup.body.secret as string, t.clock)
    const first = await api.post('/api/auth/login/verify', {
      mfa_token: (await passwordStep('replayer')).mfa_token,
      code: fresh,
    })
    expect(first.status).toBe(200)
    const second = await api.post('/api/auth/login/verify', {
      mfa_token: (await passwordStep('replayer')).mfa_token,
      code: fresh,
    })
    expect(second.status).toBe(401)
    expect(second.body.code).toBe('invalid_code')
  })

  /**
   * Replay race: one code presented on two logins at once. The step check and its update are
   * one conditional write, so exactly one login gets tokens on every database.
   */
  it('lets exactly one of two concurrent logins with one code through', async () => {
    const { secret } = await userWithTotp('racer')
    const [a, b] = await Promise.all([passwordStep('racer'), passwordStep('racer')])
    const code = appCode(secret, t.clock)
    const results = await Promise.all([
      api.post('/api/auth/login/verify', { mfa_token: a.mfa_token, code }),
      api.post('/api/auth/login/verify', { mfa_token: b.mfa_token, code }),
    ])
    expect(results.map((r) => r.status).sort()).toEqual([200, 401])

    t.clock.advance('30s')
    const next = appCode(secret, t.clock)
    const oneCall = await Promise.all(
      [1, 2, 3].map(() =>
        api.post('/api/auth/login', { username: 'racer', password: STRONG_PASSWORD, otp: next }),
      ),
    )
    expect(oneCall.map((r) => r.status).sort()).toEqual([200, 401, 401])
  })

  it('refuses wrong, short, long and non-digit codes, each counting as a try', async () => {
    const { secret } = await userWithTotp('bad-input')
    const challenge = await passwordStep('bad-input')
    const right = appCode(secret, t.clock)
    const wrong = right === '000000' ? '000001' : '000000'
    for (const code of [wrong, '12345', '1234567', 'abcdef']) {
      const res = await api.post('/api/auth/login/verify', {
        mfa_token: challenge.mfa_token,
        code,
      })
      expect(res.status).toBe(401)
      expect(res.body).toMatchObject({ code: 'invalid_code', status: 401 })
    }
    const tooLong = await api.post('/api/auth/login/verify', {
      mfa_token: challenge.mfa_token,
      code: '1'.repeat(65),
    })
    expect(tooLong.status).toBe(400)
    expect(tooLong.body.code).toBe('validation_error')
    const missing = await api.post('/api/auth/login/verify', { mfa_token: challenge.mfa_token })
    expect(missing.body.code).toBe('validation_error')
    const badMethod = await api.post('/api/auth/login/verify', {
      mfa_token: challenge.mfa_token,
      code: right,
      method: 'carrier_pigeon',
    })
    expect(badMethod.body.code).toBe('validation_error')
    // Four tries are gone; the fifth (right) code still works.
    const ok = await api.post('/api/auth/login/verify', {
      mfa_token: challenge.mfa_token,
      code: right,
    })
    expect(ok.status).toBe(200)
  })

  it('kills an mfa_token after 5 wrong codes, after 5 minutes, and once spent', async () => {
    const { secret } = await userWithTotp('token-life')
    const challenge = await passwordStep('token-life')
    const right = appCode(secret, t.clock)
    const wrong = right === '000000' ? '000001' : '000000'
    for (let i = 0; i < 5; i++) {
      const res = await api.post('/api/auth/login/verify', {
        mfa_token: challenge.mfa_token,
        code: wrong,
      })
      expect(res.body.code).toBe('invalid_code')
    }
    const sixth = await api.post('/api/auth/login/verify', {
      mfa_token: challenge.mfa_token,
      code: right,
    })
    expect(sixth.status).toBe(401)
    expect(sixth.body.code).toBe('invalid_token')

    const expiring = await passwordStep('token-life')
    t.clock.advance('301s')
    const late = await api.post('/api/auth/login/verify', {
      mfa_token: expiring.mfa_token,
      code: appCode(secret, t.clock),
    })
    expect(late.body.code).toBe('invalid_token')

    const spent = await passwordStep('token-life')
    const used = await api.post('/api/auth/login/verify', {
      mfa_token: spent.mfa_token,
      code: appCode(secret, t.clock),
    })
    expect(used.status).toBe(200)
    t.clock.advance('30s')
    const again = await api.post('/api/auth/login/verify', {
      mfa_token: spent.mfa_token,
      code: appCode(secret, t.clock),
    })
    expect(again.body.code).toBe('invalid_token')

    const forged = await api.post('/api/auth/login/verify', {
      mfa_token: 'not-a-token',
      code: right,
    })
    expect(forged.body.code).toBe('invalid_token')
  })

  it('binds the mfa_token to its user: another user’s code does not open it', async () => {
    const a = await userWithTotp('bound-a')
    const b = await userWithTotp('bound-b')
    const challengeA = await passwordStep('bound-a')
    const res = await api.post('/api/auth/login/verify', {
      mfa_token: challengeA.mfa_token,
      code: appCode(b.secret, t.clock),
    })
    expect(res.status).toBe(401)
    expect(res.body.code).toBe('invalid_code')
    const ok = await api.post<Tokens>('/api/auth/login/verify', {
      mfa_token: challengeA.mfa_token,
      code: appCode(a.secret, t.clock),
    })
    expect(ok.body.user.username).toBe('bound-a')
  })

  it('logs in with a backup code once; the count goes down; reuse fails', async () => {
    const { backupCodes } = await userWithTotp('backup-user')
    const code = backupCodes[3]!
    const first = await api.post<Tokens>('/api/auth/login/verify', {
      mfa_token: (await passwordStep('backup-user')).mfa_token,
      method: 'backup_code',
      code: code.toUpperCase().replace('-', ' '),
    })
    expect(first.status).toBe(200)
    expect(claimsOf(first.body.access_token).amr).toEqual(['pwd', 'mfa', 'otp'])
    const me = await api.get('/api/auth/me', first.body.access_token)
    expect((me.body.mfa as Record<string, unknown>).backup_codes_remaining).toBe(9)
    const reuse = await api.post('/api/auth/login/verify', {
      mfa_token: (await passwordStep('backup-user')).mfa_token,
      method: 'backup_code',
      code,
    })
    expect(reuse.status).toBe(401)
    expect(reuse.body.code).toBe('invalid_code')
    // A backup code is not a TOTP code.
    const asTotp = await api.post('/api/auth/login/verify', {
      mfa_token: (await passwordStep('backup-user')).mfa_token,
      code: backupCodes[4],
    })
    expect(asTotp.status).toBe(401)
    const events = await t.services.db
      .selectFrom('audit_events')
      .selectAll()
      .where('event', '=', 'backup_code_used')
      .execute()
    expect(events).toHaveLength(1)
    expect(JSON.parse(events[0]!.details!)).toEqual({ remaining: 9 })
    expect(JSON.stringify(events)).not.toContain(code)
  })

  /** Double use race: one backup code on two logins at once; one conditional write decides. */
  it('lets exactly one of two concurrent logins with one backup code through', async () => {
    const { backupCodes } = await userWithTotp('backup-racer')
    const [a, b] = await Promise.all([passwordStep('backup-racer'), passwordStep('backup-racer')])
    const results = await Promise.all(
      [a, b].map((c) =>
        api.post('/api/auth/login/verify', {
          mfa_token: c.mfa_token,
          method: 'backup_code',
          code: backupCodes[0],
        }),
      ),
    )
    expect(results.map((r) => r.status).sort()).toEqual([200, 401])
  })

  /**
   * The other race: two right codes on one mfa_token at once (a double submit, two tabs).
   * One signs in; the other is told the token is spent, and its code is not used up.
   */
  it('spends one of two right codes sent at once with one mfa_token, not both', async () => {
    const { backupCodes, secret } = await userWithTotp('token-racer')
    const verifyWith = (mfaToken: string, code: string) =>
      api.post('/api/auth/login/verify', {
        mfa_token: mfaToken,
        code,
        ...(code.length === 6 ? {} : { method: 'backup_code' }),
      })
    const pairs: [string, string][] = [
      [backupCodes[0]!, backupCodes[1]!],
      [backupCodes[2]!, appCode(secret, t.clock)],
    ]
    for (const pair of pairs) {
      const { mfa_token } = await passwordStep('token-racer')
      const results = await Promise.all(pair.map((code) => verifyWith(mfa_token, code)))
      expect(results.map((r) => r.status).sort()).toEqual([200, 401])
      const loser = results.findIndex((r) => r.status === 401)
      expect(results[loser]!.body.code).toBe('invalid_token')
      // The loser's code still opens a new sign-in.
      const { mfa_token: next } = await passwordStep('token-racer')
      expect((await verifyWith(next, pair[loser]!)).status).toBe(200)
      t.clock.advance('30s')
    }
    const used = await t.services.db
      .selectFrom('audit_events')
      .select('id')
      .where('event', '=', 'backup_code_used')
      .where('username', '=', 'token-racer')
      .execute()
    expect(used).toHaveLength(3)
  })

  it("an mfa_token's hold ends with its check, or 30 s on if the check never ends (a crashed instance)", async () => {
    const tokens = createMfaTokens({ db: t.services.db, clock: t.clock, random: cryptoRandom })
    const user = await userWithTotp('token-holder')
    const { token } = await tokens.issue(user.tokens.user.id, 'token-holder')
    const first = await tokens.hold(token)
    await first!.release()
    const second = await tokens.hold(token)
    expect(second).toBeDefined()
    t.clock.advance('31s') // `second` never let go
    const third = await tokens.hold(token)
    expect(await third!.spend()).toBe(true)
    expect(await second!.spend()).toBe(false)
    expect(await tokens.hold(token)).toBeUndefined()
  })

  it('a wrong and a right code at once with one mfa_token: the right one signs in either way', async () => {
    const { backupCodes } = await userWithTotp('token-waiter')
    const { mfa_token } = await passwordStep('token-waiter')
    const [wrong, right] = await Promise.all(
      ['zzzz-zzzz', backupCodes[5]!].map((code) =>
        api.post('/api/auth/login/verify', { mfa_token, method: 'backup_code', code }),
      ),
    )
    // Whichever is checked first: the right code signs in, and the wrong one is refused as
    // wrong (checked first) or as too late (the token spent).
    expect(right!.status).toBe(200)
    expect(wrong!.status).toBe(401)
    expect(['invalid_code', 'invalid_token']).toContain(wrong!.body.code)
  })

  it('regenerates backup codes with the password; the old ones stop working', async () => {
    const { backupCodes, secret } = await userWithTotp('regen')
    // A new set is a new factor: it needs a token that proved one (SPEC §4.2).
    const { body: tokens } = await api.post<Tokens>('/api/auth/login/verify', {
      mfa_token: (await passwordStep('regen')).mfa_token,
      code: appCode(secret, t.clock),
    })
    const wrong = await api.post(
      '/api/auth/2fa/backup-codes',
      { password: 'not the password at all' },
      tokens.access_token,
    )
    expect(wrong.status).toBe(401)
    expect(wrong.body.code).toBe('invalid_credentials')
    const res = await api.post<{ backup_codes: string[] }>(
      '/api/auth/2fa/backup-codes',
      { password: STRONG_PASSWORD },
      tokens.access_token,
    )
    expect(res.status).toBe(200)
    expect(res.body.backup_codes).toHaveLength(10)
    expect(res.body.backup_codes).not.toContain(backupCodes[0])
    const old = await api.post('/api/auth/login/verify', {
      mfa_token: (await passwordStep('regen')).mfa_token,
      method: 'backup_code',
      code: backupCodes[0],
    })
    expect(old.status).toBe(401)
    const fresh = await api.post('/api/auth/login/verify', {
      mfa_token: (await passwordStep('regen')).mfa_token,
      method: 'backup_code',
      code: res.body.backup_codes[0],
    })
    expect(fresh.status).toBe(200)
    const rows = await t.services.db
      .selectFrom('backup_codes')
      .select('code_hash')
      .where('user_id', '=', tokens.user.id)
      .execute()
    expect(rows).toHaveLength(10)
    expect(JSON.stringify(rows)).not.toContain(res.body.backup_codes[1]!.replace('-', ''))
  })

  it('refuses setup while TOTP is on, and enable without setup or with a wrong code', async () => {
    const noSetup = await registerAndLogin(api, 'no-setup')
    const early = await api.post(
      '/api/auth/2fa/totp/enable',
      { code: '123456' },
      noSetup.access_token,
    )
    expect(early.status).toBe(409)
    const setup = await api.post('/api/auth/2fa/totp/setup', undefined, noSetup.access_token)
    const right = appCode(setup.body.secret as string, t.clock)
    const wrongCode = await api.post(
      '/api/auth/2fa/totp/enable',
      { code: right === '000000' ? '000001' : '000000' },
      noSetup.access_token,
    )
    expect(wrongCode.status).toBe(401)
    expect(wrongCode.body.code).toBe('invalid_code')
    const me = await api.get('/api/auth/me', noSetup.access_token)
    expect((me.body.mfa as Record<string, unknown>).totp).toBe(false)
    // A new setup replaces the pending one: the first secret's code no longer confirms.
    const second = await api.post('/api/auth/2fa/totp/setup', undefined, noSetup.access_token)
    expect(second.body.secret).not.toBe(setup.body.secret)
    const stale = await api.post('/api/auth/2fa/totp/enable', { code: right }, noSetup.access_token)
    expect(stale.status).toBe(401)

    const { backupCodes } = await userWithTotp('already-on')
    // The token from before enrolment is password-only: first it needs mfa …
    const mfaToken = await api.post<Tokens>('/api/auth/login/verify', {
      mfa_token: (await passwordStep('already-on')).mfa_token,
      method: 'backup_code',
      code: backupCodes[0],
    })
    // … and with it, a second setup is a conflict.
    const again = await api.post('/api/auth/2fa/totp/setup', undefined, mfaToken.body.access_token)
    expect(again.status).toBe(409)
    expect(again.body.code).toBe('conflict')
  })

  it('needs an mfa token to enrol a further factor once one exists', async () => {
    const { tokens, secret } = await userWithTotp('planter')
    await t.services.db
      .updateTable('users')
      .set({ email: 'planter@example.com', email_verified_at: 1 })
      .where('id', '=', tokens.user.id)
      .execute()
    // tokens.access_token has amr ["pwd"]: it came before TOTP was on.
    const planted = await api.post('/api/auth/2fa/email/enable', undefined, tokens.access_token)
    expect(planted.status).toBe(403)
    expect(planted.body.code).toBe('mfa_required')
    const verified = await api.post<Tokens>('/api/auth/login/verify', {
      mfa_token: (await passwordStep('planter')).mfa_token,
      code: appCode(secret, t.clock),
    })
    const ok = await api.post('/api/auth/2fa/email/enable', undefined, verified.body.access_token)
    expect(ok.status).toBe(204)
    const me = await api.get('/api/auth/me', verified.body.access_token)
    expect(me.body.mfa).toMatchObject({ totp: true, email: true })
  })

  it('disables every factor with password and code, not with a wrong one', async () => {
    const { tokens, secret, backupCodes } = await userWithTotp('disabler')
    const wrongPassword = await api.post(
      '/api/auth/2fa/disable',
      { password: 'not the password at all', code: appCode(secret, t.clock) },
      tokens.access_token,
    )
    expect(wrongPassword.body.code).toBe('invalid_credentials')
    const wrongCode = await api.post(
      '/api/auth/2fa/disable',
      { password: STRONG_PASSWORD, code: 'zzzzz-zzzzz' },
      tokens.access_token,
    )
    expect(wrongCode.status).toBe(401)
    expect(wrongCode.body.code).toBe('invalid_code')
    let me = await api.get('/api/auth/me', tokens.access_token)
    expect((me.body.mfa as Record<string, unknown>).totp).toBe(true)

    const ok = await api.post(
      '/api/auth/2fa/disable',
      { password: STRONG_PASSWORD, code: backupCodes[9] },
      tokens.access_token,
    )
    expect(ok.status).toBe(204)
    me = await api.get('/api/auth/me', tokens.access_token)
    expect(me.body.mfa).toEqual({
      totp: false,
      webauthn: 0,
      email: false,
      sms: false,
      backup_codes_remaining: 0,
    })
    const login = await api.post<Tokens>('/api/auth/login', {
      username: 'disabler',
      password: STRONG_PASSWORD,
    })
    expect(claimsOf(login.body.access_token).amr).toEqual(['pwd'])
    const audit = await t.services.db
      .selectFrom('audit_events')
      .select('event')
      .where('user_id', '=', tokens.user.id)
      .execute()
    expect(audit.map((e) => e.event)).toContain('mfa_disabled')
  })

  it('2fa/disable without a code is a validation_error while TOTP is on, and costs no try', async () => {
    const { tokens } = await userWithTotp('disabler-no-code')
    const missing = await api.post(
      '/api/auth/2fa/disable',
      { password: STRONG_PASSWORD },
      tokens.access_token,
    )
    expect(missing.status).toBe(400)
    expect(missing.body).toMatchObject({ code: 'validation_error' })
    expect(missing.body.detail).toMatch(/^code: /)
    const failures = await t.services.db
      .selectFrom('audit_events')
      .select('event')
      .where('user_id', '=', tokens.user.id)
      .where('event', 'in', ['login_failed', 'mfa_failed'])
      .execute()
    expect(failures).toEqual([])
    const me = await api.get('/api/auth/me', tokens.access_token)
    expect((me.body.mfa as Record<string, unknown>).totp).toBe(true)
  })

  it('disables with a TOTP code too', async () => {
    const { tokens, secret } = await userWithTotp('disabler-totp')
    const ok = await api.post(
      '/api/auth/2fa/disable',
      { password: STRONG_PASSWORD, code: appCode(secret, t.clock) },
      tokens.access_token,
    )
    expect(ok.status).toBe(204)
  })

  it('re-encrypts TOTP secrets under a new key with `secrets rotate`', async () => {
    const { tokens, secret } = await userWithTotp('resealed')
    expect(await t.services.totp.reseal()).toBe(0) // all under the current key already
    const newKey = Buffer.alloc(32, 9)
    const rotated = await startApp(t.config.databaseUrl, {
      clock: t.clock,
      env: {
        GATEHOUSE_SECRET_KEY: newKey.toString('base64'),
        GATEHOUSE_OLD_SECRET_KEYS: TEST_SECRET_KEY,
      },
    })
    try {
      expect(await rotated.services.totp.reseal()).toBeGreaterThanOrEqual(1)
      const row = await rotated.services.db
        .selectFrom('totp_secrets')
        .select('secret_sealed')
        .where('user_id', '=', tokens.user.id)
        .executeTakeFirstOrThrow()
      const onlyNew = createSecretBox(newKey, [])
      expect(
        onlyNew.open(row.secret_sealed, `totp_secrets.secret_sealed:${tokens.user.id}`).toString(),
      ).toBe(secret)
      const ok = await client(rotated.app).post('/api/auth/login/verify', {
        mfa_token: (await passwordStep('resealed')).mfa_token,
        code: appCode(secret, t.clock),
      })
      expect(ok.status).toBe(200)
    } finally {
      await rotated.close()
    }
  })

  it('counts mfa verifications in /metrics', async () => {
    const text = await t.services.observability.registry.metrics()
    expect(text).toMatch(/gatehouse_mfa_verifications_total\{method="totp",outcome="success"\} \d+/)
    expect(text).toMatch(/gatehouse_mfa_verifications_total\{method="totp",outcome="failure"\} \d+/)
    expect(text).toMatch(/gatehouse_logins_total\{outcome="success"\} [1-9]/)
  })
})
