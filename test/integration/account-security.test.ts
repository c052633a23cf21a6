import { describe, expect, it } from 'vitest'
import { testDatabases } from '../support/databases.js'
import { useTestApp } from '../support/harness.js'
import { registerAndLogin, STRONG_PASSWORD, type Client, type Tokens } from '../support/http.js'
import type { TestApp } from '../support/harness.js'
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
