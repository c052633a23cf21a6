import { beforeAll, describe, expect, it } from 'vitest'
import { createCodeHashes } from '../../src/crypto/code-hashes.js'
import { deriveKey } from '../../src/crypto/secret-box.js'
import { GatehouseError } from '../../src/services/errors.js'
import { createLoginFlow, type LoginFlow } from '../../src/services/login/login-flow.js'
import {
  runAttempt,
  type LoginAttempt,
  type LoginGuard,
} from '../../src/services/login/login-guard.js'
import { createBackupCodes } from '../../src/services/mfa/backup-codes.js'
import { createMfaTokens } from '../../src/services/mfa/mfa-tokens.js'
import { createSecondFactorCheck } from '../../src/services/mfa/second-factor.js'
import { testDatabases } from '../support/databases.js'
import { useTestApp } from '../support/harness.js'
import { STRONG_PASSWORD } from '../support/http.js'
import { appCode } from '../support/totp.js'

const databases = await testDatabases()
const context = { ip: '203.0.113.7', userAgent: 'test' }

/**
 * SPEC §4.5: a wrong second factor counts as a failed login like a wrong password, and only a
 * completed login (both factors) resets the failure count — knowing the password must not
 * buy unlimited code guesses. The guard itself is issue 5's; this pins what the flow tells it.
 */
describe.each(databases)('login guard calls around second factors on $name', (database) => {
  const { t } = useTestApp(database)
  let flow: LoginFlow
  let secret: string
  const calls: { what: string; attempt: LoginAttempt }[] = []
  let refuse = false

  const guard: LoginGuard = {
    async withAttempt(attempt, check) {
      calls.push({ what: 'before', attempt })
      if (refuse) throw new GatehouseError('rate_limited', { retryAfterSec: 60 })
      return runAttempt(check, async (outcome) => {
        calls.push({ what: outcome, attempt })
      })
    },
  }
  const whats = () => calls.map((c) => c.what)

  beforeAll(async () => {
    const s = t.services
    const codeHasher = createCodeHashes(() =>
      Promise.resolve([deriveKey(t.config.secrets.key, 'gatehouse code-hash v1')]),
    )
    flow = createLoginFlow({
      db: s.db,
      accounts: s.accounts,
      sessions: s.sessions,
      audit: s.audit,
      guard,
      metrics: s.observability.security,
      mfaSummary: s.mfaSummary,
      mfaTokens: createMfaTokens({ db: s.db, clock: s.clock, random: s.random }),
      secondFactor: createSecondFactorCheck({
        totp: s.totp,
        backupCodes: createBackupCodes({
          db: s.db,
          clock: s.clock,
          random: s.random,
          hasher: codeHasher,
        }),
        codes: s.codes,
        audit: s.audit,
        profiles: s.profiles,
      }),
      codes: s.codes,
      passkeys: s.passkeys.assertions,
    })
    const id = await s.accounts.create({ username: 'Guarded', password: STRONG_PASSWORD })
    secret = (await s.totp.enrolDirectly(id, 'Guarded')).secret
  })

  const passwordStep = async () => {
    const result = await flow.login({ identifier: 'Guarded', password: STRONG_PASSWORD, context })
    if (result.kind !== 'mfa_required') throw new Error('expected mfa_required')
    return result.mfaToken
  }

  it('gives the password step back as neither success nor failure', async () => {
    calls.length = 0
    await passwordStep()
    expect(whats()).toEqual(['before', 'release'])
    expect(calls[0]!.attempt).toMatchObject({
      username: 'guarded',
      userId: null,
      ip: '203.0.113.7',
    })
  })

  it('reports a wrong code as a failure and a right one as the only success', async () => {
    const token = await passwordStep()
    calls.length = 0
    const right = appCode(secret, t.clock)
    const wrong = right === '000000' ? '000001' : '000000'
    await expect(
      flow.verify({ mfaToken: token, method: 'totp', code: wrong, context }),
    ).rejects.toMatchObject({ code: 'invalid_code' })
    expect(whats()).toEqual(['before', 'failure'])
    expect(calls[1]!.attempt).toMatchObject({ username: 'guarded', ip: '203.0.113.7' })
    expect(calls[1]!.attempt.userId).toBeTruthy()
    await flow.verify({ mfaToken: token, method: 'totp', code: right, context })
    expect(whats()).toEqual(['before', 'failure', 'before', 'success'])
  })

  it('reports a wrong one-call otp as a failure', async () => {
    t.clock.advance('30s')
    calls.length = 0
    const right = appCode(secret, t.clock)
    await expect(
      flow.login({
        identifier: 'Guarded',
        password: STRONG_PASSWORD,
        otp: right === '000000' ? '000001' : '000000',
        context,
      }),
    ).rejects.toMatchObject({ code: 'invalid_code' })
    expect(whats()).toEqual(['before', 'failure'])
    await flow.login({ identifier: 'Guarded', password: STRONG_PASSWORD, otp: right, context })
    expect(whats()).toEqual(['before', 'failure', 'before', 'success'])
  })

  it('checks no code while the guard refuses: the code and the token stay usable', async () => {
    t.clock.advance('30s')
    const token = await passwordStep()
    const right = appCode(secret, t.clock)
    refuse = true
    try {
      for (let i = 0; i < 6; i++) {
        await expect(
          flow.verify({ mfaToken: token, method: 'totp', code: right, context }),
        ).rejects.toMatchObject({ code: 'rate_limited' })
      }
    } finally {
      refuse = false
    }
    const tokens = await flow.verify({ mfaToken: token, method: 'totp', code: right, context })
    expect(tokens.accessToken).toBeTruthy()
  })
})
