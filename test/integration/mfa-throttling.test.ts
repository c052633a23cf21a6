import { describe, expect, it } from 'vitest'
import { testDatabases } from '../support/databases.js'
import { useTestApp } from '../support/harness.js'
import { registerAndLogin, STRONG_PASSWORD } from '../support/http.js'
import { appCode } from '../support/totp.js'

const databases = await testDatabases()

/**
 * SPEC §4.5 end to end: wrong second-factor codes count as failed logins, so knowing the
 * password does not buy unlimited code guesses — across fresh mfa_tokens too.
 */
describe.each(databases)('second-factor guesses are throttled on $name', (database) => {
  const { t, api } = useTestApp(database, {
    env: { LOGIN_MAX_FAILURES: '3', LOCKOUT_THRESHOLD: '10' },
  })

  it('refuses further logins after LOGIN_MAX_FAILURES wrong codes, even with the right password and code', async () => {
    const tokens = await registerAndLogin(api, 'guessed')
    const setup = await api.post<{ otpauth_url: string }>(
      '/api/auth/2fa/totp/setup',
      undefined,
      tokens.access_token,
    )
    const enable = await api.post(
      '/api/auth/2fa/totp/enable',
      { code: appCode(setup.body.otpauth_url, t.clock) },
      tokens.access_token,
    )
    expect(enable.status).toBe(200)
    t.clock.advance('30s')

    for (let i = 0; i < 3; i++) {
      // A fresh mfa_token each time: its own 5-try budget must not reset the account's.
      const step = await api.post<{ mfa_token: string }>('/api/auth/login', {
        username: 'guessed',
        password: STRONG_PASSWORD,
      })
      expect(step.status).toBe(200)
      const right = appCode(setup.body.otpauth_url, t.clock)
      const wrong = await api.post('/api/auth/login/verify', {
        mfa_token: step.body.mfa_token,
        code: right === '123456' ? '654321' : '123456',
      })
      expect(wrong.body.code).toBe('invalid_code')
    }
    const throttled = await api.post('/api/auth/login', {
      username: 'guessed',
      password: STRONG_PASSWORD,
    })
    expect(throttled.status).toBe(429)
    expect(throttled.body.code).toBe('rate_limited')
    expect(Number(throttled.headers['retry-after'])).toBeGreaterThan(0)
    const oneCall = await api.post('/api/auth/login', {
      username: 'guessed',
      password: STRONG_PASSWORD,
      otp: appCode(setup.body.otpauth_url, t.clock),
    })
    expect(oneCall.status).toBe(429)
  })
})
