import { describe, expect, it } from 'vitest'
import { testDatabases } from '../support/databases.js'
import { useTestApp, type TestApp } from '../support/harness.js'
import { registerAndLogin, STRONG_PASSWORD, type Tokens } from '../support/http.js'

const databases = await testDatabases()

describe.each(databases)('accounts and login on $name', (database) => {
  const { t, api } = useTestApp(database)

  it('registers a user with the default role and returns the user object', async () => {
    const res = await api.post('/api/auth/register', {
      username: 'Alice.Example',
      password: STRONG_PASSWORD,
      email: 'alice@example.com',
      phone: '+14155550100',
    })
    expect(res.status).toBe(201)
    expect(res.body.user).toMatchObject({
      username: 'Alice.Example',
      email: 'alice@example.com',
      email_verified: false,
      phone: '+14155550100',
      phone_verified: false,
      roles: ['user'],
      locked: false,
      disabled: false,
      mfa: { totp: false, webauthn: 0, email: false, sms: false, backup_codes_remaining: 0 },
    })
    expect(JSON.stringify(res.body)).not.toContain('argon2')
  })

  it('refuses a duplicate username case-insensitively and a duplicate email', async () => {
    const dupName = await api.post('/api/auth/register', {
      username: 'alice.example',
      password: STRONG_PASSWORD,
    })
    expect(dupName.status).toBe(409)
    expect(dupName.body.code).toBe('conflict')
    const dupEmail = await api.post('/api/auth/register', {
      username: 'someone-else',
      password: STRONG_PASSWORD,
      email: 'ALICE@example.com',
    })
    expect(dupEmail.status).toBe(409)
  })

  it.each([
    [{ username: 'ab', password: STRONG_PASSWORD }, 'username'],
    [{ username: 'bad name!', password: STRONG_PASSWORD }, 'username'],
    [{ username: 'shorty', password: 'short' }, 'password'],
    [{ username: 'common', password: 'password1234' }, 'password'],
    [{ username: 'samename12345', password: 'SameName12345' }, 'password'],
    [{ username: 'nomail', password: STRONG_PASSWORD, email: 'not-an-email' }, 'email'],
    [{ username: 'nophone', password: STRONG_PASSWORD, phone: '555' }, 'phone'],
    [{ username: 123, password: STRONG_PASSWORD }, 'username'],
    [{ password: STRONG_PASSWORD }, 'username'],
    [{ username: null, password: STRONG_PASSWORD }, 'username'],
  ])('rejects %j with validation_error naming %s', async (body, field) => {
    const res = await api.post('/api/auth/register', body)
    expect(res.status).toBe(400)
    expect(res.body).toMatchObject({ code: 'validation_error', status: 400 })
    expect(res.body.detail).toContain(field)
  })

  it('counts password length in code points', async () => {
    const elevenEmoji = '🔒'.repeat(11) // 22 UTF-16 units, 11 characters
    const res = await api.post('/api/auth/register', {
      username: 'emoji-user',
      password: elevenEmoji,
    })
    expect(res.status).toBe(400)
    const ok = await api.post('/api/auth/register', {
      username: 'emoji-user',
      password: '🔒'.repeat(12) + 'x',
    })
    expect(ok.status).toBe(201)
  })

  it('accepts a 128-character password', async () => {
    const res = await api.post('/api/auth/register', {
      username: 'long-pass',
      password: 'x'.repeat(64) + 'y'.repeat(64),
    })
    expect(res.status).toBe(201)
  })

  it('logs in by username or email with a token response', async () => {
    const byName = await api.post<Tokens>('/api/auth/login', {
      username: 'ALICE.example',
      password: STRONG_PASSWORD,
    })
    expect(byName.status).toBe(200)
    expect(byName.body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 600,
      user: { username: 'Alice.Example' },
    })
    expect(byName.body.refresh_token.length).toBeGreaterThanOrEqual(43) // 256 bits in base64url
    const byEmail = await api.post<Tokens>('/api/auth/login', {
      username: 'alice@example.com',
      password: STRONG_PASSWORD,
    })
    expect(byEmail.status).toBe(200)
  })

  it('accepts an OAuth2 password form', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `username=Alice.Example&password=${encodeURIComponent(STRONG_PASSWORD)}`,
    })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toHaveProperty('access_token')
  })

  it('gives the same 401 for a wrong password and an unknown user, and audits both', async () => {
    const wrong = await api.post('/api/auth/login', {
      username: 'Alice.Example',
      password: 'not the password at all',
    })
    const unknown = await api.post('/api/auth/login', {
      username: 'nobody-here',
      password: 'not the password at all',
    })
    expect(wrong.status).toBe(401)
    expect(unknown.status).toBe(401)
    expect(wrong.body).toEqual(unknown.body)
    expect(wrong.body.code).toBe('invalid_credentials')
    const failures = await t.services.db
      .selectFrom('audit_events')
      .selectAll()
      .where('event', '=', 'login_failed')
      .execute()
    expect(failures.map((f) => f.username)).toEqual(
      expect.arrayContaining(['Alice.Example', 'nobody-here']),
    )
    expect(JSON.stringify(failures)).not.toContain('not the password at all')
  })

  it('upgrades an imported bcrypt hash to argon2id at the next login', async () => {
    const bcrypt = await import('bcryptjs')
    const id = await t.services.accounts.create({ username: 'imported' })
    const legacy = bcrypt.hashSync(STRONG_PASSWORD, 4).replace(/^\$2b\$/, '$2y$')
    await t.services.db
      .updateTable('users')
      .set({ password_hash: legacy })
      .where('id', '=', id)
      .execute()
    const res = await api.post('/api/auth/login', {
      username: 'imported',
      password: STRONG_PASSWORD,
    })
    expect(res.status).toBe(200)
    expect(await storedHashOf(t, id)).toMatch(/^\$argon2id\$/)
    const again = await api.post('/api/auth/login', {
      username: 'imported',
      password: STRONG_PASSWORD,
    })
    expect(again.status).toBe(200)
  })

  /**
   * Regression: passwords were hashed exactly as typed, so "café" typed with a composed é
   * (NFC, most keyboards) and with e + combining accent (NFD) were two passwords, and the
   * owner was told the right password was wrong (NIST SP 800-63B §5.1.1.2: normalise).
   */
  it('takes a password in any Unicode normalisation form as the same password', async () => {
    const composed = 'café crème brûlée'
    const decomposed = composed.normalize('NFD')
    expect(decomposed).not.toBe(composed)
    const reg = await api.post('/api/auth/register', { username: 'unicode-pw', password: composed })
    expect(reg.status).toBe(201)
    const login = (password: string) =>
      api.post('/api/auth/login', { username: 'unicode-pw', password })
    expect((await login(decomposed)).status).toBe(200)
    expect((await login(composed)).status).toBe(200)
    // A no-break space and full-width letters are their compatibility forms (NFKC).
    expect((await login('café\u00a0crème brûlée')).status).toBe(200)
    expect((await login('ｃａｆé crème brûlée')).status).toBe(200)
    expect((await login('cafe crème brûlée')).status).toBe(401)

    // Six e + combining accent are twelve code points as typed but six characters once
    // normalised: too short, like six composed ones.
    const short = await api.post('/api/auth/register', {
      username: 'unicode-short',
      password: 'e\u0301'.repeat(6),
    })
    expect(short.status).toBe(400)
    expect(short.body).toMatchObject({ code: 'validation_error' })
  })

  it('still accepts a hash made from a password exactly as typed, and rehashes it normalised', async () => {
    const bcrypt = await import('bcryptjs')
    const typed = 'cafe\u0301 au lait, no sugar'
    const id = await t.services.accounts.create({ username: 'imported-nfd' })
    // What an earlier version, or a service that never normalised, stored for this password.
    await t.services.db
      .updateTable('users')
      .set({ password_hash: bcrypt.hashSync(typed, 4) })
      .where('id', '=', id)
      .execute()
    const login = (password: string) =>
      api.post('/api/auth/login', { username: 'imported-nfd', password })
    expect((await login(typed)).status).toBe(200)
    expect(await storedHashOf(t, id)).toMatch(/^\$argon2id\$/)
    // Rehashed normalised: now the composed form works too.
    expect((await login(typed.normalize('NFC'))).status).toBe(200)
    expect((await login(typed)).status).toBe(200)
  })

  it('serves /me with the access token and refuses requests without one', async () => {
    const tokens = await registerAndLogin(api, 'me-user')
    const me = await api.get('/api/auth/me', tokens.access_token)
    expect(me.status).toBe(200)
    expect(me.body).toMatchObject({ username: 'me-user', roles: ['user'] })
    const anonymous = await api.get('/api/auth/me')
    expect(anonymous.status).toBe(401)
    expect(anonymous.body.code).toBe('unauthorized')
    expect(anonymous.headers['www-authenticate']).toBe('Bearer')
  })
})

/** The password hash stored for a user, as the database holds it. */
async function storedHashOf(t: TestApp, userId: string): Promise<string | null> {
  const row = await t.services.db
    .selectFrom('users')
    .select('password_hash')
    .where('id', '=', userId)
    .executeTakeFirstOrThrow()
  return row.password_hash
}
