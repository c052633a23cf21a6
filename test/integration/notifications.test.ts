import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { loadConfig } from '../../src/config/index.js'
import { testDatabases } from '../support/databases.js'
import { failingWrites } from '../support/failing-writes.js'
import { useCaptures } from '../support/captures.js'
import {
  startApp,
  TEST_SECRET_KEY,
  useFreshDatabase,
  useTestApp,
  ALL_NOTIFICATIONS,
  type TestApp,
} from '../support/harness.js'
import { SoftAuthenticator } from '../support/authenticator.js'
import { STRONG_PASSWORD, type Tokens } from '../support/http.js'
import { passkeyClient } from '../support/passkeys.js'
import { appCode } from '../support/totp.js'
import { codeIn, startMailCapture, type MailCapture } from '../support/mail.js'

const databases = await testDatabases()
const NEW_PASSWORD = 'a brand new passphrase'
const tokenIn = (text: string) => /\/not-me\?token=([A-Za-z0-9_-]+)/.exec(text)![1]!

describe.each(databases)('security notifications on $name', (database) => {
  const captures = useCaptures()
  const { t, api } = useTestApp(database, () => ({
    env: {
      ...captures.env('Gatehouse <auth@example.test>'),
      PUBLIC_URL: 'https://auth.example.test',
      LOCKOUT_THRESHOLD: '2',
      LOGIN_MAX_FAILURES: '10',
      REFRESH_REUSE_GRACE: '0',
      NOTIFY_EVENTS: ALL_NOTIFICATIONS,
    },
  }))

  const call = async (
    url: string,
    body: object,
    opts: { token?: string; ua?: string; ip?: string } = {},
  ) => {
    const res = await t.app.inject({
      method: 'POST',
      url,
      payload: body,
      remoteAddress: opts.ip ?? '198.51.100.7',
      headers: {
        'user-agent': opts.ua ?? 'Laptop/1.0',
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      },
    })
    return {
      status: res.statusCode,
      body: (res.body ? JSON.parse(res.body) : {}) as Record<string, string>,
    }
  }
  const login = (username: string, password = STRONG_PASSWORD, ua?: string, ip?: string) =>
    call('/api/auth/login', { username, password }, { ua, ip })

  async function withEmail(username: string): Promise<string> {
    const email = `${username}@example.test`
    expect(
      (await call('/api/auth/register', { username, password: STRONG_PASSWORD, email })).status,
    ).toBe(201)
    const code = codeIn((await captures.mail.next(email)).text)
    expect(
      (await call('/api/auth/verify-contact', { username, channel: 'email', code })).status,
    ).toBe(200)
    return email
  }

  /** forgot → the reset code emailed for it. */
  async function resetCode(username: string, email: string): Promise<string> {
    expect((await call('/api/auth/password/forgot', { username })).status).toBe(202)
    return codeIn((await captures.mail.next(email)).text)
  }

  /** forgot → the emailed code → reset to NEW_PASSWORD, and the "password reset" notice. */
  async function resetPassword(username: string, email: string): Promise<void> {
    const code = await resetCode(username, email)
    const reset = await call('/api/auth/password/reset', {
      username,
      code,
      new_password: NEW_PASSWORD,
    })
    expect(reset.status).toBe(204)
    expect((await captures.mail.next(email)).subject).toBe('Gatehouse: Password reset')
  }

  it('tells of a login from a new device, with when, where, which device and a not-me link', async () => {
    const email = await withEmail('nina')
    expect((await login('nina')).status).toBe(200) // the first login: nothing to compare with
    expect((await login('nina', STRONG_PASSWORD, 'Laptop/1.0', '198.51.100.99')).status).toBe(200) // same /24
    t.clock.advance('1h')
    expect((await login('nina', STRONG_PASSWORD, 'Phone/7.1', '203.0.113.5')).status).toBe(200)
    const notice = await captures.mail.next(email)
    expect(notice.subject).toBe('Gatehouse: New sign-in')
    expect(notice.text).toContain('signed in to from a new device')
    expect(notice.text).toContain('2026-01-01 01:00:00 UTC')
    expect(notice.text).toContain('203.0.113.5')
    expect(notice.text).toContain('Phone/7.1')
    expect(notice.text).toMatch(/https:\/\/auth\.example\.test\/not-me\?token=[A-Za-z0-9_-]{43}\b/)
    expect(notice.html).toContain('Phone/7.1')
    expect(notice.html).toContain(
      `href="https://auth.example.test/not-me?token=${tokenIn(notice.text)}"`,
    )
    expect(captures.mail.inbox.filter((m) => m.to === email)).toEqual([])
    const stored = await t.services.db.selectFrom('not_me_tokens').select('token_hash').execute()
    expect(JSON.stringify(stored)).not.toContain(tokenIn(notice.text))
  })

  it('tells of each kind of change to the account', async () => {
    const email = 'nina@example.test'
    const session = (await login('nina', STRONG_PASSWORD, 'Phone/7.1', '203.0.113.5')).body
    expect(
      (await call('/api/auth/2fa/email/enable', {}, { token: session.access_token })).status,
    ).toBe(204)
    expect((await captures.mail.next(email)).text).toContain(
      'A second factor was added to your account: email codes.',
    )

    const ninaId = (
      await t.services.db
        .selectFrom('users')
        .select('id')
        .where('username', '=', 'nina')
        .executeTakeFirstOrThrow()
    ).id
    const context = { ip: '203.0.113.5', userAgent: 'Phone/7.1' }
    // A backup code spent on turning two-step verification off is no sign-in: that notice
    // (mfa_disabled) tells of it, so this one is not sent.
    await t.services.audit.record({
      event: 'backup_code_used',
      outcome: 'success',
      userId: ninaId,
      details: { remaining: 9, action: 'mfa_disable' },
      context,
    })
    await t.services.audit.record({
      event: 'backup_code_used',
      outcome: 'success',
      userId: ninaId,
      details: { remaining: 2 },
      context,
    })
    const used = await captures.mail.next(email)
    expect(used.subject).toBe('Gatehouse: Backup code used')
    expect(used.text).toContain('2 backup codes are left.')
    await t.services.audit.record({
      event: 'mfa_disabled',
      outcome: 'success',
      userId: ninaId,
      context,
    })
    expect((await captures.mail.next(email)).subject).toBe(
      'Gatehouse: Two-step verification turned off',
    )
    await t.services.db.deleteFrom('mfa_channels').where('user_id', '=', ninaId).execute()

    const fresh = (await login('nina', STRONG_PASSWORD, 'Phone/7.1', '203.0.113.5')).body
    const changed = await call(
      '/api/auth/password/change',
      { current_password: STRONG_PASSWORD, new_password: NEW_PASSWORD },
      { token: fresh.access_token },
    )
    expect(changed.status).toBe(204)
    expect((await captures.mail.next(email)).subject).toBe('Gatehouse: Password changed')

    const tokens = (await login('nina', NEW_PASSWORD, 'Phone/7.1', '203.0.113.5')).body
    expect((await call('/api/auth/refresh', { refresh_token: tokens.refresh_token })).status).toBe(
      200,
    )
    expect((await call('/api/auth/refresh', { refresh_token: tokens.refresh_token })).status).toBe(
      401,
    )
    expect((await captures.mail.next(email)).subject).toBe(
      'Gatehouse: Session ended after token reuse',
    )

    for (let i = 0; i < 2; i++) await login('nina', 'wrong password!!', 'Phone/7.1', '203.0.113.5')
    expect((await captures.mail.next(email)).subject).toBe('Gatehouse: Account locked')
    await t.services.accountLocks.unlock(ninaId, { via: 'cli' })

    // An admin's lock is "an account locked" too (SPEC §4.13), told as the admin's doing.
    expect(await t.services.accountLocks.lock(ninaId, { via: 'admin' })).toBe(true)
    const locked = await captures.mail.next(email)
    expect(locked.subject).toBe('Gatehouse: Account locked')
    expect(locked.text).toContain('An administrator locked your account')
    await t.services.accountLocks.unlock(ninaId, { via: 'cli' })
  })

  it('"this wasn\'t me" ends every session and blocks the password until a reset, once', async () => {
    const email = await withEmail('otto')
    await login('otto')
    const session = (await login('otto', STRONG_PASSWORD, 'Thief/1.0', '192.0.2.66'))
      .body as unknown as Tokens
    const token = tokenIn((await captures.mail.next(email)).text)

    const [first, second] = await Promise.all([
      call('/api/auth/not-me', { token }),
      call('/api/auth/not-me', { token }),
    ])
    expect([first.status, second.status].sort()).toEqual([204, 401])
    expect([first, second].find((r) => r.status === 401)!.body.code).toBe('invalid_token')
    expect((await call('/api/auth/not-me', { token: 'made-up' })).body.code).toBe('invalid_token')
    expect((await call('/api/auth/not-me', {})).body.code).toBe('validation_error')

    const me = await t.app.inject({
      url: '/api/auth/me',
      headers: { authorization: `Bearer ${session.access_token}` },
    })
    expect(me.statusCode).toBe(401)
    expect((await call('/api/auth/refresh', { refresh_token: session.refresh_token })).status).toBe(
      401,
    )
    const blocked = await login('otto')
    expect(blocked.status).toBe(403)
    expect(blocked.body.code).toBe('password_reset_required')
    expect((await login('otto', 'wrong password!!')).body.code).toBe('invalid_credentials')
    const audit = await t.services.db
      .selectFrom('audit_events')
      .selectAll()
      .where('event', '=', 'compromise_reported')
      .execute()
    expect(audit).toHaveLength(1)
    expect(JSON.stringify(audit)).not.toContain(token)

    // The reset that answers the report may not set the reported password back (NIST SP
    // 800-63B §5.1.1.2); the code stays for the next try.
    const code = await resetCode('otto', email)
    const same = await call('/api/auth/password/reset', {
      username: 'otto',
      code,
      new_password: STRONG_PASSWORD,
    })
    expect(same.status).toBe(400)
    expect(same.body.code).toBe('validation_error')
    expect(same.body.detail).toMatch(/^new_password: /)
    expect((await login('otto')).body.code).toBe('password_reset_required')
    const reset = await call('/api/auth/password/reset', {
      username: 'otto',
      code,
      new_password: NEW_PASSWORD,
    })
    expect(reset.status).toBe(204)
    expect((await login('otto', NEW_PASSWORD)).status).toBe(200)
    expect((await login('otto')).body.code).toBe('invalid_credentials')
  })

  it('a reset with no report before it may keep the same password', async () => {
    const email = await withEmail('same-again')
    const code = await resetCode('same-again', email)
    const reset = await call('/api/auth/password/reset', {
      username: 'same-again',
      code,
      new_password: STRONG_PASSWORD,
    })
    expect(reset.status).toBe(204)
  })

  /**
   * "This wasn't me" ended the sessions and blocked the password, but a passkey still signed
   * in: an intruder holding the password adds a passkey, the owner follows the link in the
   * "second factor added" notice, and the intruder signs straight back in with that passkey.
   * An mfa_token taken before the report likewise still finished its login.
   */
  const refusal = (res: { status: number; body: object }) => [
    res.status,
    (res.body as { code?: string }).code,
  ]
  const passkeysOf = async (username: string) =>
    (
      await t.services.db
        .selectFrom('webauthn_credentials')
        .innerJoin('users', 'users.id', 'webauthn_credentials.user_id')
        .select('webauthn_credentials.id')
        .where('users.username', '=', username)
        .orderBy('webauthn_credentials.created_at')
        .execute()
    ).map((r) => r.id)
  const lastReport = async () => {
    const row = await t.services.db
      .selectFrom('audit_events')
      .select('details')
      .where('event', '=', 'compromise_reported')
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow()
    return JSON.parse(row.details ?? '{}') as Record<string, unknown>
  }

  /**
   * An intruder holding the password adds a passkey, which signs in without the password: if
   * the owner's report left it in place, the intruder would sign straight back in, even after
   * the owner's reset. An mfa_token taken before the report must not finish its sign-in either.
   */
  it('"this wasn\'t me" removes the passkey its notice reports as added and ends pending second steps', async () => {
    const email = await withEmail('quinn')
    const pk = passkeyClient(api)
    // The intruder, with the password: a session, a passkey, and a pending second step.
    const intruder = (await login('quinn', STRONG_PASSWORD, 'Thief/1.0', '192.0.2.66'))
      .body as unknown as Tokens
    const authenticator = new SoftAuthenticator('ES256', 'https://auth.example.test')
    const passkey = await pk.register(intruder.access_token, authenticator)
    const added = await captures.mail.next(email)
    expect(added.text).toContain('A second factor was added to your account')
    const step = await pk.passwordStep('quinn')
    const stepOptions = await pk.mfaOptions(step.mfa_token)

    expect((await call('/api/auth/not-me', { token: tokenIn(added.text) })).status).toBe(204)

    expect(await passkeysOf('quinn')).toEqual([])
    expect(await lastReport()).toMatchObject({
      passkeys_removed: [passkey.id],
      totp_removed: false,
      channels_removed: [],
      backup_codes_removed: 0,
    })
    const { challenge_id, options } = await pk.passkeyOptions()
    const passwordless = await pk.verifyPasskey(challenge_id, authenticator.assert(options))
    expect(passwordless.status).toBe(401)
    // The report ended every session, and the half-done sign-in with them.
    const second = await pk.verifyMfa(step.mfa_token, authenticator.assert(stepOptions))
    expect(refusal(second)).toEqual([401, 'invalid_token'])

    // The owner resets the password and signs in with it alone; the intruder's passkey is gone.
    await resetPassword('quinn', email)
    const back = await login('quinn', NEW_PASSWORD)
    expect(back.status).toBe(200)
    expect(back.body.access_token).toBeTruthy()
    const again = await pk.passkeyOptions()
    expect(
      (await pk.verifyPasskey(again.challenge_id, authenticator.assert(again.options))).status,
    ).toBe(401)
  })

  it('a link from an earlier notice removes every passkey added since its event and keeps older ones until a reset', async () => {
    const email = await withEmail('rhea')
    const pk = passkeyClient(api)
    const owner = (await login('rhea')).body as unknown as Tokens
    const ownKey = new SoftAuthenticator('ES256', 'https://auth.example.test')
    const own = await pk.register(owner.access_token, ownKey)
    expect((await captures.mail.next(email)).subject).toBe('Gatehouse: Second factor added')
    t.clock.advance('1h')
    // Someone signs in from another device (with the owner's laptop, passkey and all) and
    // adds a passkey of their own.
    const stolen = await pk.loginWithSecondFactor('rhea', ownKey)
    const theirKey = new SoftAuthenticator('ES256', 'https://auth.example.test')
    await pk.register(stolen.access_token, theirKey)
    const notices = [await captures.mail.next(email), await captures.mail.next(email)]
    const signIn = notices.find((m) => m.subject === 'Gatehouse: New sign-in')!
    expect(notices.map((m) => m.subject).sort()).toEqual([
      'Gatehouse: New sign-in',
      'Gatehouse: Second factor added',
    ])

    expect((await call('/api/auth/not-me', { token: tokenIn(signIn.text) })).status).toBe(204)

    expect(await passkeysOf('rhea')).toEqual([own.id])
    const theirs = await pk.passkeyOptions()
    expect(
      (await pk.verifyPasskey(theirs.challenge_id, theirKey.assert(theirs.options))).status,
    ).toBe(401)
    const mine = await pk.passkeyOptions()
    expect(refusal(await pk.verifyPasskey(mine.challenge_id, ownKey.assert(mine.options)))).toEqual(
      [403, 'password_reset_required'],
    )
  })

  it('"this wasn\'t me" removes an authenticator app and backup codes the intruder set up, so the owner is not locked out after the reset', async () => {
    const email = await withEmail('sven')
    const intruder = (await login('sven', STRONG_PASSWORD, 'Thief/1.0', '192.0.2.66'))
      .body as unknown as Tokens
    const setup = await api.post<{ otpauth_url: string }>(
      '/api/auth/2fa/totp/setup',
      undefined,
      intruder.access_token,
    )
    // A real clock moves while the request runs: the factor's rows are written a few
    // milliseconds before the event that reports them.
    const code = appCode(setup.body.otpauth_url, t.clock)
    t.clock.tickPerRead(1)
    const enable = await api.post<{ backup_codes: string[] }>(
      '/api/auth/2fa/totp/enable',
      { code },
      intruder.access_token,
    )
    t.clock.tickPerRead(0)
    expect(enable.status).toBe(200)
    const added = await captures.mail.next(email)
    expect(added.subject).toBe('Gatehouse: Second factor added')

    expect((await call('/api/auth/not-me', { token: tokenIn(added.text) })).status).toBe(204)
    expect(await lastReport()).toMatchObject({
      passkeys_removed: [],
      totp_removed: true,
      backup_codes_removed: enable.body.backup_codes.length,
    })

    await resetPassword('sven', email)
    // The owner's password alone signs in: no second step with the intruder's app.
    const back = await login('sven', NEW_PASSWORD)
    expect(back.status).toBe(200)
    expect(back.body.access_token).toBeTruthy()
    const me = await api.get<{ mfa: Record<string, unknown> }>(
      '/api/auth/me',
      back.body.access_token,
    )
    expect(me.body.mfa).toMatchObject({ totp: false, backup_codes_remaining: 0 })
  })

  it('a report that fails half way leaves its link usable for another try', async () => {
    const email = await withEmail('tove')
    const intruder = (await login('tove', STRONG_PASSWORD, 'Thief/1.0', '192.0.2.66')).body
    expect(
      (await call('/api/auth/2fa/email/enable', {}, { token: intruder.access_token })).status,
    ).toBe(204)
    const token = tokenIn((await captures.mail.next(email)).text)
    const db = t.services.db
    const intruderIn = async () =>
      (await api.get('/api/auth/me', intruder.access_token)).status === 200
    expect(await intruderIn()).toBe(true)
    // The last of the report's writes (ending the sessions) fails: nothing of it may stay,
    // the spent link included.
    const restore = await failingWrites(db, 'sessions', 'update')
    try {
      expect((await call('/api/auth/not-me', { token })).status).toBe(500)
    } finally {
      await restore()
    }
    expect((await login('tove')).status).toBe(200)

    expect((await call('/api/auth/not-me', { token })).status).toBe(204)
    expect(await lastReport()).toMatchObject({ channels_removed: ['email'] })
    expect(await intruderIn()).toBe(false)
    expect(refusal(await login('tove'))).toEqual([403, 'password_reset_required'])
  })

  it('a reset that fails half way keeps the old password, the sessions and the code', async () => {
    const email = await withEmail('ursa')
    const session = (await login('ursa')).body
    expect((await call('/api/auth/password/forgot', { username: 'ursa' })).status).toBe(202)
    const reset = { username: 'ursa', code: codeIn((await captures.mail.next(email)).text) }
    const restore = await failingWrites(t.services.db, 'sessions', 'update')
    try {
      const res = await call('/api/auth/password/reset', { ...reset, new_password: NEW_PASSWORD })
      expect(res.status).toBe(500)
    } finally {
      await restore()
    }
    expect((await api.get('/api/auth/me', session.access_token)).status).toBe(200)
    expect((await login('ursa', NEW_PASSWORD)).status).toBe(401)
    expect((await login('ursa')).status).toBe(200)

    const again = await call('/api/auth/password/reset', { ...reset, new_password: NEW_PASSWORD })
    expect(again.status).toBe(204)
    expect((await captures.mail.next(email)).subject).toBe('Gatehouse: Password reset')
    expect((await api.get('/api/auth/me', session.access_token)).status).toBe(401)
    expect((await login('ursa', NEW_PASSWORD)).status).toBe(200)
  })

  it("the reset that follows a report closes the account's older links", async () => {
    const email = await withEmail('ulla')
    expect((await login('ulla')).status).toBe(200) // the first login: no notice
    t.clock.advance('1h')
    const intruder = (await login('ulla', STRONG_PASSWORD, 'Thief/1.0', '192.0.2.66')).body
    const signIn = await captures.mail.next(email)
    expect(signIn.subject).toBe('Gatehouse: New sign-in')
    expect(
      (await call('/api/auth/2fa/email/enable', {}, { token: intruder.access_token })).status,
    ).toBe(204)
    const added = await captures.mail.next(email)
    expect((await call('/api/auth/not-me', { token: tokenIn(added.text) })).status).toBe(204)
    await resetPassword('ulla', email)

    // What the older notice told of came before the report the reset answered.
    const older = await call('/api/auth/not-me', { token: tokenIn(signIn.text) })
    expect(refusal(older)).toEqual([401, 'invalid_token'])
    expect((await login('ulla', NEW_PASSWORD)).status).toBe(200)
  })

  it('a notice sent only after the reset that answered a report carries a dead link', async () => {
    const email = await withEmail('wanda')
    expect((await login('wanda')).status).toBe(200) // the first login: no notice
    t.clock.advance('1h')
    // The SMTP server is away when the intruder's sign-in is told: the notice waits.
    captures.mail.rejectNextMessages(1)
    const intruder = (await login('wanda', STRONG_PASSWORD, 'Thief/1.0', '192.0.2.66')).body
    const waiting = () =>
      t.services.db
        .selectFrom('notification_outbox')
        .select('attempts')
        .where('kind', '=', 'new_device')
        .where('sent_at', 'is', null)
        .execute()
    await vi.waitFor(async () => expect(await waiting()).toEqual([{ attempts: 1 }]))
    t.clock.advance('10s')
    expect(
      (await call('/api/auth/2fa/email/enable', {}, { token: intruder.access_token })).status,
    ).toBe(204)
    const added = await captures.mail.next(email)
    expect((await call('/api/auth/not-me', { token: tokenIn(added.text) })).status).toBe(204)
    await resetPassword('wanda', email)

    t.clock.advance('21s')
    expect(await t.services.notifier.deliverDue()).toBe(1)
    const late = await captures.mail.next(email)
    expect(late.subject).toBe('Gatehouse: New sign-in')
    // Following it would block the new password again: the reset answered what it tells of.
    const followed = await call('/api/auth/not-me', { token: tokenIn(late.text) })
    expect(refusal(followed)).toEqual([401, 'invalid_token'])
    expect((await login('wanda', NEW_PASSWORD)).status).toBe(200)
  })

  it('a reset with no report before it leaves the links working', async () => {
    const email = await withEmail('vera')
    expect((await login('vera')).status).toBe(200)
    t.clock.advance('1h')
    expect((await login('vera', STRONG_PASSWORD, 'Thief/1.0', '192.0.2.66')).status).toBe(200)
    const signIn = await captures.mail.next(email)
    await resetPassword('vera', email)
    expect((await call('/api/auth/not-me', { token: tokenIn(signIn.text) })).status).toBe(204)
    expect(refusal(await login('vera', NEW_PASSWORD))).toEqual([403, 'password_reset_required'])
  })

  it('an expired link no longer works', async () => {
    const email = 'otto@example.test'
    await login('otto', NEW_PASSWORD, 'Other/2.0', '192.0.2.9')
    const token = tokenIn((await captures.mail.next(email)).text)
    t.clock.advance('7d')
    t.clock.advance('1s')
    expect((await call('/api/auth/not-me', { token })).body.code).toBe('invalid_token')
  })

  it('goes by SMS when the only verified contact is a phone', async () => {
    const phone = '+15550001234'
    expect(
      (await call('/api/auth/register', { username: 'petra', password: STRONG_PASSWORD, phone }))
        .status,
    ).toBe(201)
    const code = codeIn((await captures.sms.next(phone)).text)
    expect(
      (await call('/api/auth/verify-contact', { username: 'petra', channel: 'sms', code })).status,
    ).toBe(200)
    const session = (await login('petra')).body
    await call(
      '/api/auth/password/change',
      { current_password: STRONG_PASSWORD, new_password: NEW_PASSWORD },
      { token: session.access_token },
    )
    const text = (await captures.sms.next(phone)).text
    expect(text).toContain('The password of your account was changed.')
    // Which address and device (SPEC §4.13), the device as the request's user agent.
    expect(text).toContain('from 198.51.100.7 (Laptop/1.0).')
    expect(text).toContain('https://auth.example.test/not-me?token=')
  })

  it('retries after the SMTP server refused, without failing or delaying the request', async () => {
    const email = 'nina@example.test'
    captures.mail.rejectNextMessages(1)
    const session = (await login('nina', NEW_PASSWORD, 'Phone/7.1', '203.0.113.5')).body
    const changed = await call(
      '/api/auth/password/change',
      { current_password: NEW_PASSWORD, new_password: STRONG_PASSWORD },
      { token: session.access_token },
    )
    expect(changed.status).toBe(204)
    const pending = () =>
      t.services.db
        .selectFrom('notification_outbox')
        .selectAll()
        .where('kind', '=', 'password_changed')
        .where('sent_at', 'is', null)
        .execute()
    await vi.waitFor(async () => {
      const [row] = await pending()
      expect(row).toMatchObject({ attempts: 1 })
      expect(row!.last_error).toContain('452')
    })
    expect(await t.services.notifier.deliverDue()).toBe(0) // not due yet
    t.clock.advance('31s')
    expect(await t.services.notifier.deliverDue()).toBe(1)
    expect((await captures.mail.next(email)).subject).toBe('Gatehouse: Password changed')
    expect(await pending()).toEqual([])
    expect(t.logs.join('\n')).toContain('will retry')
  })
})

// Several instances share PostgreSQL or MariaDB (README, "Running several instances"); two
// SQLite connections in one process would block each other's event loop on the file lock.
const servers = databases.filter((d) => d.name !== 'sqlite')

describe.each(servers)('two instances delivering one outbox on $name', (database) => {
  const db = useFreshDatabase(database)
  let mail: MailCapture
  let a: TestApp
  let b: TestApp
  beforeAll(async () => {
    mail = await startMailCapture()
    const env = {
      SMTP_URL: mail.url,
      EMAIL_FROM: 'Gatehouse <auth@example.test>',
      NOTIFY_EVENTS: ALL_NOTIFICATIONS,
    }
    a = await startApp(db.url, { env })
    b = await startApp(db.url, { env })
  })
  afterAll(async () => {
    await a?.close()
    await b?.close()
    await mail?.close()
  })

  it('sends each notice exactly once', async () => {
    const id = await a.services.accounts.create({
      username: 'twin',
      password: STRONG_PASSWORD,
      email: 'twin@example.test',
    })
    await a.services.db
      .updateTable('users')
      .set({ email_verified_at: 1 })
      .where('id', '=', id)
      .execute()
    for (let i = 0; i < 10; i++)
      await (i % 2 ? a : b).services.audit.record({
        event: 'password_changed',
        outcome: 'success',
        userId: id,
      })
    await Promise.all([a, b, a, b].map((x) => x.services.notifier.deliverDue()))
    await vi.waitFor(async () => {
      const open = await a.services.db
        .selectFrom('notification_outbox')
        .select('id')
        .where('sent_at', 'is', null)
        .execute()
      expect(open).toEqual([])
    })
    await vi.waitFor(() => expect(mail.inbox).toHaveLength(10))
    await Promise.all([a.services.notifier.deliverDue(), b.services.notifier.deliverDue()])
    expect(mail.inbox).toHaveLength(10)
  })
})

describe('NOTIFY_EVENTS', () => {
  const load = (value?: string) =>
    loadConfig({
      NODE_ENV: 'test',
      GATEHOUSE_SECRET_KEY: TEST_SECRET_KEY,
      ...(value === undefined ? {} : { NOTIFY_EVENTS: value }),
    })
  it('defaults to every kind, empty means none, unknown kinds are refused', () => {
    expect(load().notifyEvents).toEqual([
      'new_device',
      'factor_changed',
      'mfa_disabled',
      'backup_code_used',
      'account_locked',
      'password_changed',
      'refresh_token_reused',
    ])
    expect(load('').notifyEvents).toEqual([])
    expect(load('new_device, account_locked').notifyEvents).toEqual([
      'new_device',
      'account_locked',
    ])
    expect(() => load('new_device,logins')).toThrow(
      /^NOTIFY_EVENTS: must be a comma-separated list of new_device, .* \(got "new_device,logins"\)$/,
    )
  })
})
