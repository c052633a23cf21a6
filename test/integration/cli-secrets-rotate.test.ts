import { describe, expect, it } from 'vitest'
import { runCli } from '../support/cli.js'
import { fakeClock } from '../support/clock.js'
import { testDatabases } from '../support/databases.js'
import { startApp, TEST_SECRET_KEY, useFreshDatabase, type TestApp } from '../support/harness.js'
import { client, registerAndLogin, STRONG_PASSWORD, type Tokens } from '../support/http.js'
import { apiKey } from '../support/principals.js'
import { appCode } from '../support/totp.js'

const databases = await testDatabases()
const NEW_KEY = Buffer.alloc(32, 9).toString('base64')

/** The code in the last email the log mailer wrote (SMTP_URL is unset in tests). */
function lastMailedCode(t: TestApp): string {
  for (const line of [...t.logs].reverse()) {
    const text = (JSON.parse(line) as { mail?: { text: string } }).mail?.text
    const code = text && /(?<![0-9])([0-9]{6})(?![0-9])/.exec(text)?.[1]
    if (code) return code
  }
  throw new Error('no code was mailed')
}

/**
 * Issue 9 item 10: after the documented `secrets rotate` procedure every backup code stopped
 * working (the code-hash key was derived from the current secret key only), while
 * `backup_codes_remaining` still counted them. Backup codes, pending email codes and API
 * keys must keep working through every step: restart with the new key and the old one
 * listed as old, run `secrets rotate`, then drop the old key (SPEC §6).
 */
describe.each(databases)('secrets rotate keeps codes working on $name', (database) => {
  const fresh = useFreshDatabase(database)

  it('backup codes, a pending email code and an API key survive the whole procedure', async () => {
    const clock = fakeClock()
    const start = (env: Record<string, string>) => startApp(fresh.url, { clock, env })

    // Before: the old key only.
    let t = await start({})
    let api = client(t.app)
    const tokens = await registerAndLogin(api, 'rotator')
    const setup = await api.post<{ secret: string }>(
      '/api/auth/2fa/totp/setup',
      undefined,
      tokens.access_token,
    )
    const enable = await api.post<{ backup_codes: string[] }>(
      '/api/auth/2fa/totp/enable',
      { code: appCode(setup.body.secret, clock) },
      tokens.access_token,
    )
    const backupCodes = enable.body.backup_codes
    const pending = await api.post('/api/auth/register', {
      username: 'rotating-mail',
      password: STRONG_PASSWORD,
      email: 'rotating@example.com',
    })
    expect(pending.status).toBe(201)
    const emailCode = lastMailedCode(t)
    const { key } = await apiKey(t, ['totp'], 'rotation-owner')
    await t.close()

    const useBackupCode = async (code: string) => {
      const challenge = await api.post<{ mfa_token: string }>('/api/auth/login', {
        username: 'rotator',
        password: STRONG_PASSWORD,
      })
      return api.post<Tokens>('/api/auth/login/verify', {
        mfa_token: challenge.body.mfa_token,
        method: 'backup_code',
        code,
      })
    }
    const useApiKey = async (subject: string) =>
      api.call('POST', '/api/totp/register', {
        body: { username: subject },
        headers: { 'x-api-key': key },
      })

    // Step 1: restart with the new key, the old one listed as old.
    t = await start({ GATEHOUSE_SECRET_KEY: NEW_KEY, GATEHOUSE_OLD_SECRET_KEYS: TEST_SECRET_KEY })
    api = client(t.app)
    expect((await useBackupCode(backupCodes[0]!)).status).toBe(200)
    expect((await useApiKey('subject-1')).status).toBe(201)

    // Step 2: `secrets rotate`.
    const rotate = await runCli(['secrets', 'rotate'], {
      databaseUrl: fresh.url,
      env: { GATEHOUSE_SECRET_KEY: NEW_KEY, GATEHOUSE_OLD_SECRET_KEYS: TEST_SECRET_KEY },
    })
    expect(rotate.code, rotate.stderr).toBe(0)
    expect((await useBackupCode(backupCodes[1]!)).status).toBe(200)
    await t.close()

    // Step 3: the old key dropped.
    t = await start({ GATEHOUSE_SECRET_KEY: NEW_KEY })
    api = client(t.app)
    try {
      const login = await useBackupCode(backupCodes[2]!)
      expect(login.status).toBe(200)
      const me = await api.get('/api/auth/me', login.body.access_token)
      expect(me.body.mfa).toMatchObject({ totp: true, backup_codes_remaining: 7 })
      const verified = await api.post('/api/auth/verify-contact', {
        username: 'rotating-mail',
        channel: 'email',
        code: emailCode,
      })
      expect(verified.status).toBe(200)
      expect((await useApiKey('subject-2')).status).toBe(201)
      // Codes made now are made under the same stable key, and work as well.
      const fresh = await api.post<{ backup_codes: string[] }>(
        '/api/auth/2fa/backup-codes',
        { password: STRONG_PASSWORD },
        login.body.access_token,
      )
      expect((await useBackupCode(fresh.body.backup_codes[0]!)).status).toBe(200)
    } finally {
      await t.close()
    }
  })
})
