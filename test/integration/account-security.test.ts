import { afterAll, describe, expect, it } from 'vitest'
import { testDatabases } from '../support/databases.js'
import { useTestApp } from '../support/harness.js'
import { dropRedisPrefix, testRedisUrl, uniqueRedisPrefix } from '../support/redis.js'
import { registerAndLogin, STRONG_PASSWORD, type Client, type Tokens } from '../support/http.js'
import type { TestApp } from '../support/harness.js'
import { adminWithMfa, apiKey } from '../support/principals.js'
import { appCode } from '../support/totp.js'

const databases = await testDatabases()

interface TotpUser {
  /** amr ["pwd"]: the session that logged in before TOTP was on. */
  pwdOnly: Tokens
  /** amr ["pwd","mfa","otp"]: a login with password and TOTP code. */
  mfa: Tokens
  secret: string
  backupCodes: string[]
}

/** Registers, logs in, enables TOTP, and logs in again with both factors. */
async function userWithTotp(t: TestApp, api: Client, username: string): Promise<TotpUser> {
  const pwdOnly = await registerAndLogin(api, username)
  const setup = await api.post<{ secret: string }>(
    '/api/auth/2fa/totp/setup',
    undefined,
    pwdOnly.access_token,
  )
  const enable = await api.post<{ backup_codes: string[] }>(
    '/api/auth/2fa/totp/enable',
    { code: appCode(setup.body.secret, t.clock) },
    pwdOnly.access_token,
  )
  expect(enable.status).toBe(200)
  t.clock.advance('30s')
  const mfa = await api.post<Tokens>('/api/auth/login', {
    username,
    password: STRONG_PASSWORD,
    otp: appCode(setup.body.secret, t.clock),
  })
  expect(mfa.status).toBe(200)
  t.clock.advance('30s')
  return {
    pwdOnly,
    mfa: mfa.body,
    secret: setup.body.secret,
    backupCodes: enable.body.backup_codes,
  }
}

describe.each(databases)('account security on $name', (database) => {
  const { t, api } = useTestApp(database)

  /**
   * Issue 9 item 5: responses carrying tokens, secrets or codes had no `Cache-Control`, so a
   * browser or a shared cache could keep them (RFC 6749 §5.1, SPEC §4.3).
   */
  it('answers every response carrying a token, secret or codes with no-store', async () => {
    const seen: [string, number, unknown][] = []
    const note = (what: string, res: { status: number; headers: Record<string, unknown> }) =>
      seen.push([what, res.status, res.headers['cache-control']])

    const pwd = await registerAndLogin(api, 'no-store')
    note(
      'login',
      await api.post('/api/auth/login', { username: 'no-store', password: STRONG_PASSWORD }),
    )
    note('refresh', await api.post('/api/auth/refresh', { refresh_token: pwd.refresh_token }))
    const setup = await api.post<{ secret: string }>(
      '/api/auth/2fa/totp/setup',
      undefined,
      pwd.access_token,
    )
    note('totp setup', setup)
    note(
      'totp enable',
      await api.post(
        '/api/auth/2fa/totp/enable',
        { code: appCode(setup.body.secret, t.clock) },
        pwd.access_token,
      ),
    )
    t.clock.advance('30s')
    const challenge = await api.post<{ mfa_token: string }>('/api/auth/login', {
      username: 'no-store',
      password: STRONG_PASSWORD,
    })
    note('login (mfa_token)', challenge)
    const verified = await api.post<Tokens>('/api/auth/login/verify', {
      mfa_token: challenge.body.mfa_token,
      code: appCode(setup.body.secret, t.clock),
    })
    note('login/verify', verified)
    note(
      'backup codes',
      await api.post(
        '/api/auth/2fa/backup-codes',
        { password: STRONG_PASSWORD },
        verified.body.access_token,
      ),
    )
    const admin = await adminWithMfa(t, 'no-store-admin')
    note(
      'api key',
      await api.post('/api/admin/api-keys', { name: 'no-store', scopes: ['totp'] }, admin.token),
    )
    const { key } = await apiKey(t, ['totp'], 'no-store-owner')
    note(
      'totp service register',
      await api.call('POST', '/api/totp/register', {
        body: { username: 'subject-1' },
        headers: { 'x-api-key': key },
      }),
    )
    expect(seen).toEqual([
      ['login', 200, 'no-store'],
      ['refresh', 200, 'no-store'],
      ['totp setup', 200, 'no-store'],
      ['totp enable', 200, 'no-store'],
      ['login (mfa_token)', 200, 'no-store'],
      ['login/verify', 200, 'no-store'],
      ['backup codes', 200, 'no-store'],
      ['api key', 201, 'no-store'],
      ['totp service register', 201, 'no-store'],
    ])
  })

  /**
   * Issue 9 item 1: `POST /api/auth/2fa/backup-codes` with a password-only token (a session
   * from before TOTP was enabled) minted working backup codes, which then logged in with
   * amr ["pwd","mfa","otp"] and could turn 2FA off. A new set of codes is a new factor.
   */
  it('refuses new backup codes to a password-only token (403 mfa_required)', async () => {
    const user = await userWithTotp(t, api, 'codes-minter')
    const refused = await api.post(
      '/api/auth/2fa/backup-codes',
      { password: STRONG_PASSWORD },
      user.pwdOnly.access_token,
    )
    expect(refused.status).toBe(403)
    expect(refused.body.code).toBe('mfa_required')
    // The old set still works: nothing was replaced.
    const challenge = await api.post<{ mfa_token: string }>('/api/auth/login', {
      username: 'codes-minter',
      password: STRONG_PASSWORD,
    })
    const login = await api.post('/api/auth/login/verify', {
      mfa_token: challenge.body.mfa_token,
      method: 'backup_code',
      code: user.backupCodes[0],
    })
    expect(login.status).toBe(200)

    const minted = await api.post<{ backup_codes: string[] }>(
      '/api/auth/2fa/backup-codes',
      { password: STRONG_PASSWORD },
      user.mfa.access_token,
    )
    expect(minted.status).toBe(200)
    expect(minted.body.backup_codes).toHaveLength(10)
  })
})

describe.each(databases)('pending second steps when sessions end, on $name', (database) => {
  const { t, api } = useTestApp(database)

  /**
   * A password step passed before a password change still finished its sign-in with the old
   * password (the mfa_token lived on for its five minutes): ending every session ends the
   * half-done ones too.
   */
  it.each([
    ['a password change', 'password/change'],
    ['logout everywhere', 'logout-all'],
  ])('an mfa_token taken before %s is dead (401 invalid_token)', async (_name, endpoint) => {
    const username = `pending-${endpoint.replace(/\W/g, '-')}`
    const user = await userWithTotp(t, api, username)
    const challenge = await api.post<{ mfa_token: string }>('/api/auth/login', {
      username,
      password: STRONG_PASSWORD,
    })
    expect(challenge.body.mfa_token).toBeTypeOf('string')
    const ended = await api.post(
      `/api/auth/${endpoint}`,
      endpoint === 'logout-all'
        ? undefined
        : { current_password: STRONG_PASSWORD, new_password: 'a brand new passphrase' },
      user.mfa.access_token,
    )
    expect(ended.status).toBe(204)
    t.clock.advance('30s')
    const verify = await api.post('/api/auth/login/verify', {
      mfa_token: challenge.body.mfa_token,
      code: appCode(user.secret, t.clock),
    })
    expect(verify.status).toBe(401)
    expect(verify.body.code).toBe('invalid_token')
  })
})

/** The audit rows of one event for one user, details parsed. */
async function auditOf(t: TestApp, userId: string, event: string) {
  const rows = await t.services.db
    .selectFrom('audit_events')
    .selectAll()
    .where('user_id', '=', userId)
    .where('event', '=', event)
    .execute()
  return rows.map((r) => ({
    ...r,
    details: JSON.parse(r.details ?? '{}') as Record<string, unknown>,
  }))
}

describe.each(databases)('password re-checks are login attempts on $name', (database) => {
  const { t, api } = useTestApp(database, {
    env: { LOGIN_MAX_FAILURES: '3', LOCKOUT_THRESHOLD: '3', LOCKOUT_DURATION: '1h' },
  })

  const endpoints = [
    {
      path: '/api/auth/password/change',
      body: (password: string) => ({
        current_password: password,
        new_password: 'a brand new passphrase',
      }),
    },
    { path: '/api/auth/2fa/disable', body: (password: string) => ({ password, code: '000000' }) },
    { path: '/api/auth/2fa/backup-codes', body: (password: string) => ({ password }) },
  ]

  /**
   * Issue 9 item 2: `password/change` and `2fa/backup-codes` took unlimited wrong passwords,
   * unaudited, past throttling and lockout (31 wrong `current_password`s, then the right
   * one: 204). A wrong password on a re-check is a failed login of that user (SPEC §4.2).
   */
  it.each(endpoints)(
    'counts a wrong password on $path as a failed login',
    async ({ path, body }) => {
      const username = `recheck${path.replace(/[^a-z]/g, '')}`.slice(0, 40)
      const user = await userWithTotp(t, api, username)
      for (let i = 0; i < 3; i++) {
        const wrong = await api.post(path, body('not the password at all'), user.mfa.access_token)
        expect(wrong.status).toBe(401)
        expect(wrong.body.code).toBe('invalid_credentials')
      }
      // The third failure locked the account: the fourth try, even with the right
      // password, is not checked, and neither is a login.
      const throttled = await api.post(path, body(STRONG_PASSWORD), user.mfa.access_token)
      expect(throttled.status).toBe(429)
      expect(throttled.body.code).toBe('rate_limited')
      expect(throttled.headers['retry-after']).toBeDefined()
      const login = await api.post('/api/auth/login', { username, password: STRONG_PASSWORD })
      expect(login.status).toBe(429)

      const failed = await auditOf(t, user.mfa.user.id, 'login_failed')
      expect(failed.map((e) => e.details.reason)).toEqual([
        'wrong_password',
        'wrong_password',
        'wrong_password',
        'locked_out',
        'locked_out',
      ])
      expect(failed[0]!.details.action).toBeTruthy()
      expect(await auditOf(t, user.mfa.user.id, 'account_locked')).toHaveLength(1)
      expect(JSON.stringify(failed)).not.toContain('not the password at all')
    },
  )

  /**
   * Issue 9 item 3: five successful `2fa/disable` calls locked the owner out — the attempt
   * reserved before the password check was never given back on success. Successful
   * re-checks of every kind count as nothing.
   */
  it('never locks the owner out for successful re-checks', async () => {
    const user = await userWithTotp(t, api, 'recheck-ok')
    let token = user.mfa.access_token
    let password = STRONG_PASSWORD
    for (let i = 0; i < 5; i++) {
      const codes = await api.post('/api/auth/2fa/backup-codes', { password }, token)
      expect(codes.status).toBe(200)
    }
    for (let i = 0; i < 5; i++) {
      // TOTP is on at the start of each round; the code's step must be a fresh one.
      const { secret } = i === 0 ? user : await enableTotp(token)
      t.clock.advance('30s')
      const off = await api.post(
        '/api/auth/2fa/disable',
        { password, code: appCode(secret, t.clock) },
        token,
      )
      expect(off.status).toBe(204)
    }
    for (let i = 0; i < 5; i++) {
      const next = `another fine passphrase ${i}`
      const change = await api.post(
        '/api/auth/password/change',
        { current_password: password, new_password: next },
        token,
      )
      expect(change.status).toBe(204)
      password = next
    }
    const login = await api.post<Tokens>('/api/auth/login', { username: 'recheck-ok', password })
    expect(login.status).toBe(200)
    token = login.body.access_token
    expect(await auditOf(t, user.mfa.user.id, 'login_failed')).toEqual([])
    expect(await auditOf(t, user.mfa.user.id, 'account_locked')).toEqual([])
  })

  async function enableTotp(token: string): Promise<{ secret: string }> {
    const setup = await api.post<{ secret: string }>('/api/auth/2fa/totp/setup', undefined, token)
    expect(setup.status).toBe(200)
    const enable = await api.post(
      '/api/auth/2fa/totp/enable',
      { code: appCode(setup.body.secret, t.clock) },
      token,
    )
    expect(enable.status).toBe(200)
    return setup.body
  }
})

/**
 * Issue 9 item 7: ten parallel logins with the right password and no failure got five 429s —
 * the attempts in flight were counted as failures. Only failures refuse; surplus attempts
 * wait (boundedly) for the in-flight checks to settle, in this process and through Redis,
 * and parallel wrong passwords still never get more checks than LOGIN_MAX_FAILURES.
 */
describe.each(databases)('parallel logins on $name', (database) => {
  const prefix = uniqueRedisPrefix()
  afterAll(() => dropRedisPrefix(prefix))
  for (const store of ['memory', 'redis'] as const) {
    describe(`counters in ${store}`, () => {
      const env: Record<string, string> =
        store === 'redis' ? { REDIS_URL: testRedisUrl, REDIS_PREFIX: prefix } : {}
      const { t, api } = useTestApp(database, { env })

      it('lets ten parallel right passwords all in', async () => {
        await t.services.accounts.create({ username: 'parallel-ok', password: STRONG_PASSWORD })
        const results = await Promise.all(
          Array.from({ length: 10 }, () =>
            api.post('/api/auth/login', { username: 'parallel-ok', password: STRONG_PASSWORD }),
          ),
        )
        expect(results.map((r) => r.status)).toEqual(Array(10).fill(200))
      })

      it('checks no more parallel wrong passwords than the limit, refusing the rest', async () => {
        const id = await t.services.accounts.create({
          username: 'parallel-bad',
          password: STRONG_PASSWORD,
        })
        const results = await Promise.all(
          Array.from({ length: 12 }, () =>
            api.post('/api/auth/login', { username: 'parallel-bad', password: 'wrong password!!' }),
          ),
        )
        const statuses = results.map((r) => r.status)
        expect(statuses.filter((s) => s === 401)).toHaveLength(5)
        expect(statuses.filter((s) => s === 429)).toHaveLength(7)
        const checked = (await auditOf(t, id, 'login_failed')).filter(
          (e) => e.details.reason === 'wrong_password',
        )
        expect(checked).toHaveLength(5)
      })
    })
  }
})

describe.each(databases)('session lifetime on $name', (database) => {
  const { t, api } = useTestApp(database, { env: { SESSION_MAX_AGE: '1h' } })

  const refresh = (token: string) => api.post<Tokens>('/api/auth/refresh', { refresh_token: token })

  /**
   * Issue 9 item 4: a session refreshed forever lived forever with its original amr.
   * SESSION_MAX_AGE bounds it from the login, however often it is refreshed (SPEC §4.3).
   */
  it('refuses a refresh once the session is older than SESSION_MAX_AGE', async () => {
    let tokens = await registerAndLogin(api, 'old-session')
    for (let i = 0; i < 5; i++) {
      t.clock.advance('11m') // each refresh well within the refresh token's own lifetime
      const next = await refresh(tokens.refresh_token)
      expect(next.status).toBe(200)
      tokens = next.body
    }
    t.clock.advance('6m') // 61 minutes after the login
    const late = await refresh(tokens.refresh_token)
    expect(late.status).toBe(401)
    expect((late.body as unknown as { code: string }).code).toBe('invalid_token')
    // The session is over, not just this refresh.
    const sessions = await t.services.db
      .selectFrom('sessions')
      .select(['ended_at', 'end_reason'])
      .where('user_id', '=', tokens.user.id)
      .execute()
    expect(sessions).toEqual([{ ended_at: expect.anything(), end_reason: 'max_age' }])
    // A new login starts a new session with a new clock.
    const again = await api.post<Tokens>('/api/auth/login', {
      username: 'old-session',
      password: STRONG_PASSWORD,
    })
    expect(again.status).toBe(200)
    expect((await refresh(again.body.refresh_token)).status).toBe(200)
  })

  // An access token refreshed near the end would otherwise outlive its session by a TTL.
  it('issues no access token that outlives SESSION_MAX_AGE, and lists no session past it', async () => {
    const first = await registerAndLogin(api, 'ending-session')
    expect(first.expires_in).toBe(600)
    t.clock.advance('55m')
    const last = await refresh(first.refresh_token)
    expect(last.status).toBe(200)
    expect(last.body.expires_in).toBe(300)
    const claims = JSON.parse(
      Buffer.from(last.body.access_token.split('.')[1]!, 'base64url').toString('utf8'),
    ) as { iat: number; exp: number }
    expect(claims.exp - claims.iat).toBe(300)
    expect((await api.get('/api/auth/me', last.body.access_token)).status).toBe(200)

    t.clock.advance('5m') // the session's hour is up, though nothing ended it
    const me = await api.get('/api/auth/me', last.body.access_token)
    expect(me.status).toBe(401)
    expect((me.body as { code?: string }).code).toBe('token_expired')
    const other = await api.post<Tokens>('/api/auth/login', {
      username: 'ending-session',
      password: STRONG_PASSWORD,
    })
    const listed = await api.get<{ sessions: { id: string }[] }>(
      '/api/auth/sessions',
      other.body.access_token,
    )
    expect(listed.status).toBe(200)
    const sid = (token: string) =>
      (
        JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as {
          sid: string
        }
      ).sid
    expect(listed.body.sessions.map((s) => s.id)).toEqual([sid(other.body.access_token)])
  })

  /**
   * Issue 9 item 6: the successor kept (encrypted) for REFRESH_REUSE_GRACE stayed in the
   * database until the session's next rotation — for an idle session, forever, a live
   * refresh token in every backup. It is erased once the grace period is over: lazily by
   * the next login or refresh of anyone, and by the container's periodic sweep.
   */
  it('erases the grace-period successor once the grace period is over', async () => {
    const idle = await registerAndLogin(api, 'idle-session')
    const rotated = await refresh(idle.refresh_token)
    expect(rotated.status).toBe(200)
    const sealed = () =>
      t.services.db
        .selectFrom('refresh_tokens')
        .innerJoin('sessions', 'sessions.id', 'refresh_tokens.session_id')
        .select('refresh_tokens.successor_sealed')
        .where('sessions.user_id', '=', idle.user.id)
        .where('refresh_tokens.successor_sealed', 'is not', null)
        .execute()
    expect(await sealed()).toHaveLength(1)
    // Within the grace period the same successor comes back.
    const retried = await refresh(idle.refresh_token)
    expect(retried.body.refresh_token).toBe(rotated.body.refresh_token)

    t.clock.advance('11s')
    // Someone else's login: the idle session itself is never touched again.
    await registerAndLogin(api, 'other-user')
    expect(await sealed()).toEqual([])

    // The periodic sweep does the same without any traffic.
    await refresh(rotated.body.refresh_token)
    expect(await sealed()).toHaveLength(1)
    t.clock.advance('11s')
    await t.services.sessions.forgetSpentSuccessors()
    expect(await sealed()).toEqual([])
  })
})
