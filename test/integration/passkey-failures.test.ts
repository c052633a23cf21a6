import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { SoftAuthenticator } from '../support/authenticator.js'
import { fakeClock } from '../support/clock.js'
import { testDatabases } from '../support/databases.js'
import { useTestApp, type TestApp } from '../support/harness.js'
import { registerAndLogin, STRONG_PASSWORD, type Client } from '../support/http.js'
import { claimsOf, passkeyClient } from '../support/passkeys.js'
import { adminWithMfa } from '../support/principals.js'
import { syncDateWith } from '../support/time.js'

const databases = await testDatabases()

/** A user with one registered passkey on a fresh authenticator. */
async function userWithPasskey(
  api: Client,
  username: string,
  authenticator = new SoftAuthenticator('ES256'),
) {
  const tokens = await registerAndLogin(api, username)
  const passkey = await passkeyClient(api).register(tokens.access_token, authenticator)
  return { tokens, authenticator, passkey, userId: tokens.user.id }
}

function auditOf(t: TestApp) {
  return async (event: string, userId: string) => {
    const rows = await t.services.db
      .selectFrom('audit_events')
      .selectAll()
      .where('event', '=', event)
      .where('user_id', '=', userId)
      .orderBy('id')
      .execute()
    return rows.map((r) => JSON.parse(r.details ?? '{}') as Record<string, unknown>)
  }
}

/** An authenticator that reports counter 0 forever, as many platform authenticators do. */
const uncounted = () => new SoftAuthenticator('ES256', 'http://localhost:3000', false)

const refusedAsInvalidCode = (res: { status: number; body: unknown }) => {
  expect(res.status, JSON.stringify(res.body)).toBe(401)
  expect(res.body).toMatchObject({ code: 'invalid_code', status: 401 })
}

/**
 * Every way a passkey ceremony can be wrong (SPEC §4.9), on each of the three flows:
 * registration, second factor and passwordless. Each is refused as a wrong code and leaves
 * a reason in the audit log; none reaches a 5xx.
 */
describe.each(databases)('passkey refusals on $name', (database) => {
  // Failures pile up on purpose here; throttling has its own suite below.
  const { t, api } = useTestApp(database, {
    env: {
      LOGIN_MAX_FAILURES: '1000',
      LOCKOUT_THRESHOLD: '1000',
      WEBAUTHN_ORIGINS: 'http://localhost:3000,http://localhost:5173',
    },
  })
  const pk = passkeyClient(api)
  const audit = auditOf(t)
  // The per-IP route limit counts every call of this busy suite; each test starts afresh.
  beforeEach(() => t.clock.advance('16m'))

  describe('origin and RP id', () => {
    it('accepts every configured origin and refuses any other', async () => {
      const u = await userWithPasskey(
        api,
        'origins',
        new SoftAuthenticator('ES256', 'http://localhost:5173'),
      )
      await pk.loginPasswordless(u.authenticator)

      const { challenge_id, options } = await pk.passkeyOptions()
      const evil = u.authenticator.assert(options, { origin: 'https://evil.test' })
      refusedAsInvalidCode(await pk.verifyPasskey(challenge_id, evil))
      expect((await audit('login_failed', u.userId)).at(-1)).toEqual({
        method: 'passkey',
        reason: 'origin',
      })

      const step = await pk.passwordStep('origins')
      const mfaOptions = await pk.mfaOptions(step.mfa_token)
      const http = u.authenticator.assert(mfaOptions, { origin: 'http://localhost' })
      refusedAsInvalidCode(await pk.verifyMfa(step.mfa_token, http))
      expect((await audit('mfa_failed', u.userId)).at(-1)).toEqual({
        method: 'webauthn',
        reason: 'origin',
      })

      const tokens = await registerAndLogin(api, 'origins-register')
      const regOptions = await pk.registrationOptions(tokens.access_token)
      const response = new SoftAuthenticator().register(regOptions.body, {
        origin: 'https://evil.test',
      })
      refusedAsInvalidCode(
        await api.post('/api/auth/webauthn/register/verify', { response }, tokens.access_token),
      )
      const me = await api.get('/api/auth/me', tokens.access_token)
      expect(me.body.mfa).toMatchObject({ webauthn: 0 })
    })

    it('refuses a passkey made for, or signing for, another RP id', async () => {
      const tokens = await registerAndLogin(api, 'rp-register')
      const regOptions = await pk.registrationOptions(tokens.access_token)
      const response = new SoftAuthenticator().register(regOptions.body, { rpId: 'evil.test' })
      refusedAsInvalidCode(
        await api.post('/api/auth/webauthn/register/verify', { response }, tokens.access_token),
      )

      const u = await userWithPasskey(api, 'rp-login')
      const { challenge_id, options } = await pk.passkeyOptions()
      const signed = u.authenticator.assert(options, { rpId: 'evil.test' })
      refusedAsInvalidCode(await pk.verifyPasskey(challenge_id, signed))
      expect((await audit('login_failed', u.userId)).at(-1)).toMatchObject({ reason: 'rp_id' })

      const step = await pk.passwordStep('rp-login')
      const mfaOptions = await pk.mfaOptions(step.mfa_token)
      refusedAsInvalidCode(
        await pk.verifyMfa(
          step.mfa_token,
          u.authenticator.assert(mfaOptions, { rpId: 'evil.test' }),
        ),
      )
      expect((await audit('mfa_failed', u.userId)).at(-1)).toMatchObject({ reason: 'rp_id' })
    })
  })

  describe('challenges', () => {
    it('spends a challenge at its first use: a replay is refused on every flow', async () => {
      const u = await userWithPasskey(api, 'replayer')
      const { challenge_id, options } = await pk.passkeyOptions()
      const response = u.authenticator.assert(options)
      expect((await pk.verifyPasskey(challenge_id, response)).status).toBe(200)
      refusedAsInvalidCode(await pk.verifyPasskey(challenge_id, response))
      expect((await audit('login_failed', u.userId)).at(-1)).toMatchObject({ reason: 'challenge' })

      // A second-factor answer replayed with a new mfa_token.
      const first = await pk.passwordStep('replayer')
      const signed = u.authenticator.assert(await pk.mfaOptions(first.mfa_token))
      expect((await pk.verifyMfa(first.mfa_token, signed)).status).toBe(200)
      const second = await pk.passwordStep('replayer')
      refusedAsInvalidCode(await pk.verifyMfa(second.mfa_token, signed))
      expect((await audit('mfa_failed', u.userId)).at(-1)).toMatchObject({ reason: 'challenge' })

      // A registration replayed.
      const tokens = await registerAndLogin(api, 'replay-register')
      const regOptions = await pk.registrationOptions(tokens.access_token)
      const created = new SoftAuthenticator().register(regOptions.body)
      const body = { response: created }
      expect(
        (await api.post('/api/auth/webauthn/register/verify', body, tokens.access_token)).status,
      ).toBe(201)
      const mfa = await t.services.sessions.start({
        userId: tokens.user.id,
        amr: ['pwd', 'mfa', 'hwk'],
        context: { ip: null, userAgent: null },
      })
      refusedAsInvalidCode(
        await api.post('/api/auth/webauthn/register/verify', body, mfa.accessToken),
      )
    })

    it('spends a challenge even when its answer was wrong', async () => {
      const u = await userWithPasskey(api, 'one-shot')
      const { challenge_id, options } = await pk.passkeyOptions()
      refusedAsInvalidCode(
        await pk.verifyPasskey(
          challenge_id,
          u.authenticator.assert(options, { origin: 'https://evil.test' }),
        ),
      )
      refusedAsInvalidCode(await pk.verifyPasskey(challenge_id, u.authenticator.assert(options)))
    })

    it('lets a challenge expire after 5 minutes', async () => {
      const u = await userWithPasskey(api, 'slowpoke')
      const fresh = await pk.passkeyOptions()
      const stale = await pk.passkeyOptions()
      t.clock.advance('299s')
      expect(
        (await pk.verifyPasskey(fresh.challenge_id, u.authenticator.assert(fresh.options))).status,
      ).toBe(200)
      t.clock.advance('1s')
      refusedAsInvalidCode(
        await pk.verifyPasskey(stale.challenge_id, u.authenticator.assert(stale.options)),
      )
      expect((await audit('login_failed', u.userId)).at(-1)).toMatchObject({ reason: 'challenge' })

      const tokens = await registerAndLogin(api, 'slow-register')
      const regOptions = await pk.registrationOptions(tokens.access_token)
      t.clock.advance('5m')
      const response = new SoftAuthenticator().register(regOptions.body)
      refusedAsInvalidCode(
        await api.post('/api/auth/webauthn/register/verify', { response }, tokens.access_token),
      )
    })

    it('keeps challenges to their ceremony and their user', async () => {
      const u = await userWithPasskey(api, 'crossed')
      const step = await pk.passwordStep('crossed')
      // A passwordless challenge does not answer a second-factor step…
      const { options } = await pk.passkeyOptions()
      refusedAsInvalidCode(await pk.verifyMfa(step.mfa_token, u.authenticator.assert(options)))
      // …nor another user's second-factor challenge, nor a registration challenge.
      const other = await userWithPasskey(api, 'crossed-other')
      const otherStep = await pk.passwordStep('crossed-other')
      const otherOptions = await pk.mfaOptions(otherStep.mfa_token)
      refusedAsInvalidCode(
        await pk.verifyMfa(
          step.mfa_token,
          u.authenticator.assert({ ...otherOptions, allowCredentials: [] }),
        ),
      )
      const regOptions = await pk.registrationOptions(u.tokens.access_token)
      expect(regOptions.status).toBe(403) // (it has a factor; a fresh MFA token would be needed)
      const mfa = await pk.loginWithSecondFactor('crossed', u.authenticator)
      const reg = await pk.registrationOptions(mfa.access_token)
      refusedAsInvalidCode(
        await pk.verifyMfa(
          (await pk.passwordStep('crossed')).mfa_token,
          u.authenticator.assert({ challenge: reg.body.challenge, rpId: 'localhost' }),
        ),
      )
      // The other user's challenge is still good for them.
      expect(
        (await pk.verifyMfa(otherStep.mfa_token, other.authenticator.assert(otherOptions))).status,
      ).toBe(200)
      refusedAsInvalidCode(
        await pk.verifyPasskey('unknown-challenge', u.authenticator.assert(options)),
      )
    })
  })

  describe('signature counters', () => {
    it('refuses a counter that does not grow, and audits it', async () => {
      const u = await userWithPasskey(api, 'cloned')
      const login = async (counter: number) => {
        const { challenge_id, options } = await pk.passkeyOptions()
        return pk.verifyPasskey(challenge_id, u.authenticator.assert(options, { counter }))
      }
      expect((await login(10)).status).toBe(200)
      refusedAsInvalidCode(await login(5))
      refusedAsInvalidCode(await login(10))
      refusedAsInvalidCode(await login(0))
      expect(await audit('passkey_counter_regressed', u.userId)).toEqual([
        { passkey_id: u.passkey.id, stored: 10, received: 5 },
        { passkey_id: u.passkey.id, stored: 10, received: 10 },
        { passkey_id: u.passkey.id, stored: 10, received: 0 },
      ])
      expect((await login(11)).status).toBe(200)

      const step = await pk.passwordStep('cloned')
      const options = await pk.mfaOptions(step.mfa_token)
      refusedAsInvalidCode(
        await pk.verifyMfa(step.mfa_token, u.authenticator.assert(options, { counter: 3 })),
      )
      expect((await audit('mfa_failed', u.userId)).at(-1)).toEqual({
        method: 'webauthn',
        reason: 'counter',
      })
    })

    it('accepts a counter that starts counting after 0', async () => {
      const u = await userWithPasskey(
        api,
        'late-counter',
        new SoftAuthenticator('EdDSA', 'http://localhost:3000', false),
      )
      await pk.loginPasswordless(u.authenticator)
      const { challenge_id, options } = await pk.passkeyOptions()
      expect(
        (await pk.verifyPasskey(challenge_id, u.authenticator.assert(options, { counter: 1 })))
          .status,
      ).toBe(200)
    })
  })

  describe('user verification and ownership', () => {
    it('refuses a passwordless login without user verification; a second factor needs none', async () => {
      const u = await userWithPasskey(api, 'no-pin')
      const { challenge_id, options } = await pk.passkeyOptions()
      refusedAsInvalidCode(
        await pk.verifyPasskey(
          challenge_id,
          u.authenticator.assert(options, { userVerified: false }),
        ),
      )
      expect((await audit('login_failed', u.userId)).at(-1)).toMatchObject({
        reason: 'user_verification',
      })
      const step = await pk.passwordStep('no-pin')
      const mfaOptions = await pk.mfaOptions(step.mfa_token)
      const res = await pk.verifyMfa(
        step.mfa_token,
        u.authenticator.assert(mfaOptions, { userVerified: false }),
      )
      expect(res.status).toBe(200)
      expect(claimsOf(res.body.access_token).amr).toEqual(['pwd', 'mfa', 'hwk'])
    })

    it("refuses another user's passkey as a second factor", async () => {
      const alice = await userWithPasskey(api, 'alice-pk')
      const bob = await userWithPasskey(api, 'bob-pk')
      const step = await pk.passwordStep('bob-pk')
      const options = await pk.mfaOptions(step.mfa_token)
      const signed = alice.authenticator.assert(options, {
        credential: alice.authenticator.credentials[0]!,
      })
      refusedAsInvalidCode(await pk.verifyMfa(step.mfa_token, signed))
      expect((await audit('mfa_failed', bob.userId)).at(-1)).toEqual({
        method: 'webauthn',
        reason: 'credential',
      })
      // Nor did it sign Alice in, or touch her passkey.
      expect(await audit('mfa_succeeded', alice.userId)).toEqual([])
    })

    it("refuses a passkey presenting another user's handle", async () => {
      const alice = await userWithPasskey(api, 'alice-handle')
      const bob = await userWithPasskey(api, 'bob-handle')
      const { challenge_id, options } = await pk.passkeyOptions()
      const signed = alice.authenticator.assert(options, {
        userHandle: Buffer.from(bob.userId).toString('base64url'),
      })
      refusedAsInvalidCode(await pk.verifyPasskey(challenge_id, signed))
    })

    it('refuses a signature by another key, and a deleted passkey', async () => {
      const u = await userWithPasskey(api, 'forged')
      // The impostor's own key, presented under the victim's credential id and user handle.
      const impostor = new SoftAuthenticator('ES256')
      impostor.register({
        challenge: 'AAAAAAAAAAAAAAAAAAAAAA',
        rp: { name: 'Gatehouse', id: 'localhost' },
        user: { id: 'aW1wb3N0b3I', name: 'impostor' },
        pubKeyCredParams: [{ alg: -7 }],
      })
      const fakeOptions = await pk.passkeyOptions()
      const stolen = {
        ...impostor.credentials[0]!,
        id: u.authenticator.credentials[0]!.id,
        userHandle: u.authenticator.credentials[0]!.userHandle,
      }
      refusedAsInvalidCode(
        await pk.verifyPasskey(
          fakeOptions.challenge_id,
          impostor.assert(fakeOptions.options, { credential: stolen }),
        ),
      )
      expect((await audit('login_failed', u.userId)).at(-1)).toMatchObject({ reason: 'response' })

      // Two passkeys; the removed one stops working as a second factor.
      const mfa = await pk.loginWithSecondFactor('forged', u.authenticator)
      const spare = new SoftAuthenticator('EdDSA')
      await pk.register(mfa.access_token, spare)
      expect(
        (await api.delete(`/api/auth/webauthn/credentials/${u.passkey.id}`, mfa.access_token))
          .status,
      ).toBe(204)
      const step = await pk.passwordStep('forged')
      const options = await pk.mfaOptions(step.mfa_token)
      refusedAsInvalidCode(
        await pk.verifyMfa(
          step.mfa_token,
          u.authenticator.assert(options, { credential: u.authenticator.credentials[0]! }),
        ),
      )
      expect((await audit('mfa_failed', u.userId)).at(-1)).toMatchObject({ reason: 'credential' })
      // That answer spent its challenge; the remaining passkey answers a new one.
      const again = await pk.mfaOptions(step.mfa_token)
      expect((await pk.verifyMfa(step.mfa_token, spare.assert(again))).status).toBe(200)
    })
  })

  describe('malformed input', () => {
    it('answers 400 for bodies that miss or mistype fields', async () => {
      const u = await userWithPasskey(api, 'sloppy')
      const step = await pk.passwordStep('sloppy')
      const noResponse = await api.post('/api/auth/login/verify', {
        mfa_token: step.mfa_token,
        method: 'webauthn',
      })
      expect(noResponse.status).toBe(400)
      expect(noResponse.body).toMatchObject({ code: 'validation_error' })
      expect(noResponse.body.detail).toContain('body.response')
      const noCode = await api.post('/api/auth/login/verify', { mfa_token: step.mfa_token })
      expect(noCode.body).toMatchObject({ code: 'validation_error' })
      expect(noCode.body.detail).toContain('body.code')
      const options = await pk.mfaOptions(step.mfa_token)
      const good = u.authenticator.assert(options)
      for (const response of [
        {},
        { ...good, type: 'password' },
        { ...good, id: 'not base64url!' },
        { ...good, response: { ...good.response, signature: undefined } },
        { ...good, response: { ...good.response, clientDataJSON: 'x'.repeat(9000) } },
      ]) {
        const res = await pk.verifyMfa(step.mfa_token, response)
        expect(res.status, JSON.stringify(response)).toBe(400)
        expect(res.body).toMatchObject({ code: 'validation_error' })
      }
      const badId = await pk.verifyPasskey('bad id!', good)
      expect(badId.body).toMatchObject({ code: 'validation_error' })
      // None of that spent one of the token's tries: the answer still works.
      expect((await pk.verifyMfa(step.mfa_token, good)).status).toBe(200)
    })

    it('answers 401, never 5xx, for well-formed nonsense', async () => {
      const u = await userWithPasskey(api, 'nonsense')
      const { challenge_id, options } = await pk.passkeyOptions()
      const good = u.authenticator.assert(options)
      const junk = Buffer.from('junk').toString('base64url')
      for (const response of [
        { ...good, response: { ...good.response, clientDataJSON: junk } },
        { ...good, response: { ...good.response, authenticatorData: junk } },
        { ...good, response: { ...good.response, signature: junk } },
        { ...good, id: junk, rawId: junk },
        { ...good, rawId: junk },
      ]) {
        const again = await pk.passkeyOptions()
        refusedAsInvalidCode(await pk.verifyPasskey(again.challenge_id, { ...response }))
      }
      const tokens = await registerAndLogin(api, 'nonsense-register')
      const regOptions = await pk.registrationOptions(tokens.access_token)
      const created = new SoftAuthenticator().register(regOptions.body)
      for (const response of [
        { ...created, response: { ...created.response, attestationObject: junk } },
        { ...created, response: { ...created.response, clientDataJSON: junk } },
      ]) {
        refusedAsInvalidCode(
          await api.post('/api/auth/webauthn/register/verify', { response }, tokens.access_token),
        )
      }
      expect((await pk.verifyPasskey(challenge_id, good)).status).toBe(200)
    })

    it('refuses options for a dead mfa_token or an account without passkeys', async () => {
      const dead = await api.post('/api/auth/login/webauthn/options', { mfa_token: 'nope' })
      expect(dead.status).toBe(401)
      expect(dead.body).toMatchObject({ code: 'invalid_token' })
      const id = await t.services.accounts.create({
        username: 'totp-only',
        password: STRONG_PASSWORD,
      })
      const { secret } = await t.services.totp.enrolDirectly(id, 'totp-only')
      expect(secret).toBeTruthy()
      const step = await pk.passwordStep('totp-only')
      expect(step.mfa_methods).toEqual(['totp'])
      const res = await api.post('/api/auth/login/webauthn/options', { mfa_token: step.mfa_token })
      expect(res.status).toBe(400)
      expect(res.body).toMatchObject({ code: 'validation_error' })
      // Not enrolled: any passkey answer is a wrong second factor.
      const stray = await userWithPasskey(api, 'stray')
      const strayStep = await pk.passwordStep('stray')
      const answer = stray.authenticator.assert(await pk.mfaOptions(strayStep.mfa_token))
      refusedAsInvalidCode(await pk.verifyMfa(step.mfa_token, answer))
    })
  })

  describe('races', () => {
    /**
     * SPEC §4.9 single use: ten instances' worth of concurrent verifications of one
     * challenge, and exactly one signs in (ory/kratos' onetime-secret race, for passkeys).
     */
    it('lets exactly one of 10 concurrent passwordless verifications of one challenge in', async () => {
      // A passkey without a counter, so the challenge alone stands between the ten.
      const u = await userWithPasskey(api, 'racer', uncounted())
      const { challenge_id, options } = await pk.passkeyOptions()
      const response = u.authenticator.assert(options)
      const results = await Promise.all(
        Array.from({ length: 10 }, () => pk.verifyPasskey(challenge_id, response)),
      )
      expect(results.map((r) => r.status).sort()).toEqual([200, ...Array(9).fill(401)])
      const sessions = await t.services.db
        .selectFrom('sessions')
        .select('id')
        .where('user_id', '=', u.userId)
        .execute()
      expect(sessions).toHaveLength(2) // the registering login and the one winner
    })

    it('lets exactly one of 10 concurrent second factors answering one challenge in', async () => {
      const u = await userWithPasskey(api, 'mfa-racer', uncounted())
      const steps = []
      for (let i = 0; i < 10; i++) steps.push(await pk.passwordStep('mfa-racer'))
      const response = u.authenticator.assert(await pk.mfaOptions(steps[0]!.mfa_token))
      const results = await Promise.all(steps.map((s) => pk.verifyMfa(s.mfa_token, response)))
      expect(results.map((r) => r.status).sort()).toEqual([200, ...Array(9).fill(401)])
    })

    it('stores exactly one passkey from 10 concurrent registrations of one answer', async () => {
      const tokens = await registerAndLogin(api, 'reg-racer')
      const options = await pk.registrationOptions(tokens.access_token)
      const response = new SoftAuthenticator().register(options.body)
      const results = await Promise.all(
        Array.from({ length: 10 }, () =>
          api.post('/api/auth/webauthn/register/verify', { response }, tokens.access_token),
        ),
      )
      const statuses = results.map((r) => r.status)
      expect(statuses.filter((s) => s === 201)).toHaveLength(1)
      // A loser is refused as a used challenge (401) or, if it starts after the winner's passkey
      // is stored, as an enrolment that now needs a second factor (403): the order is the race's.
      expect(statuses.filter((s) => s !== 201 && s !== 401 && s !== 403)).toEqual([])
      const me = await api.get('/api/auth/me', tokens.access_token)
      expect(me.body.mfa).toMatchObject({ webauthn: 1 })
    })
  })
})

/**
 * SPEC §4.5 and §4.9: a passkey login is a login. Wrong answers count as failures for the
 * throttle and the lockout, the mfa_token's five tries hold, and disabled, locked and
 * throttled accounts are refused as at the password step.
 */
describe.each(databases)('passkeys and the login guard on $name', (database) => {
  // The guard's counters read Date themselves: keep Date in step with the app's clock.
  const clock = fakeClock()
  let time: ReturnType<typeof syncDateWith>
  beforeAll(() => {
    time = syncDateWith(clock)
  })
  afterAll(() => time.restore())
  const { t, api } = useTestApp(database, () => ({
    clock,
    env: { LOGIN_MAX_FAILURES: '5', LOCKOUT_THRESHOLD: '10', LOCKOUT_DURATION: '15m' },
  }))
  const pk = passkeyClient(api)
  // Every test starts past the last one's throttling window.
  beforeEach(() => time.advance('16m'))

  const badAssertion = (
    u: { authenticator: SoftAuthenticator },
    options: Parameters<SoftAuthenticator['assert']>[0],
  ) => u.authenticator.assert(options, { origin: 'https://evil.test' })

  it('gives an mfa_token five wrong passkey answers, then it is dead', async () => {
    const u = await userWithPasskey(api, 'five-tries')
    const step = await pk.passwordStep('five-tries')
    for (let i = 0; i < 5; i++) {
      const options = await pk.mfaOptions(step.mfa_token)
      refusedAsInvalidCode(await pk.verifyMfa(step.mfa_token, badAssertion(u, options)))
    }
    const options = await api.post('/api/auth/login/webauthn/options', {
      mfa_token: step.mfa_token,
    })
    expect(options.body).toMatchObject({ code: 'invalid_token' })
  })

  it('throttles the account after wrong passkey answers, for passwords and passkeys alike', async () => {
    const u = await userWithPasskey(api, 'throttled')
    for (let i = 0; i < 5; i++) {
      const { challenge_id, options } = await pk.passkeyOptions()
      refusedAsInvalidCode(await pk.verifyPasskey(challenge_id, badAssertion(u, options)))
    }
    const { challenge_id, options } = await pk.passkeyOptions()
    const right = await pk.verifyPasskey(challenge_id, u.authenticator.assert(options))
    expect(right.status).toBe(429)
    expect(right.body).toMatchObject({ code: 'rate_limited' })
    expect(Number(right.headers['retry-after'])).toBeGreaterThan(0)
    const password = await api.post('/api/auth/login', {
      username: 'throttled',
      password: STRONG_PASSWORD,
    })
    expect(password.status).toBe(429)
  })

  it('throttles passkey logins after wrong passwords', async () => {
    const u = await userWithPasskey(api, 'pw-then-pk')
    for (let i = 0; i < 5; i++) {
      const res = await api.post('/api/auth/login', {
        username: 'pw-then-pk',
        password: 'wrong password!',
      })
      expect(res.status).toBe(401)
    }
    const { challenge_id, options } = await pk.passkeyOptions()
    const res = await pk.verifyPasskey(challenge_id, u.authenticator.assert(options))
    expect(res.status).toBe(429)
  })

  it('resets the consecutive-failure count with a completed passkey login', async () => {
    const u = await userWithPasskey(api, 'pk-resets')
    const failures = async () =>
      (
        await t.services.db
          .selectFrom('login_lockouts')
          .select('failures')
          .where('user_id', '=', u.userId)
          .executeTakeFirst()
      )?.failures ?? 0
    for (let i = 0; i < 4; i++) {
      const res = await api.post('/api/auth/login', {
        username: 'pk-resets',
        password: 'wrong password!',
      })
      expect(res.status).toBe(401)
    }
    expect(await failures()).toBe(4)
    await pk.loginPasswordless(u.authenticator)
    expect(await failures()).toBe(0)
  })

  it('locks the account after LOCKOUT_THRESHOLD wrong second factors', async () => {
    const u = await userWithPasskey(api, 'locked-out')
    for (let i = 0; i < 10; i++) {
      if (i % 5 === 0) time.advance('16m') // past the throttle window, not the lockout
      const step = await pk.passwordStep('locked-out')
      const options = await pk.mfaOptions(step.mfa_token)
      refusedAsInvalidCode(await pk.verifyMfa(step.mfa_token, badAssertion(u, options)))
    }
    const { challenge_id, options } = await pk.passkeyOptions()
    const res = await pk.verifyPasskey(challenge_id, u.authenticator.assert(options))
    expect(res.status).toBe(429)
    const locked = await t.services.db
      .selectFrom('audit_events')
      .select('event')
      .where('event', '=', 'account_locked')
      .where('user_id', '=', u.userId)
      .execute()
    expect(locked).toHaveLength(1)
  })

  it('refuses disabled and admin-locked accounts after a right passkey', async () => {
    const admin = await adminWithMfa(t, 'pk-guard-admin')
    for (const [flag, code] of [
      ['disabled', 'account_disabled'],
      ['locked', 'account_locked'],
    ] as const) {
      const u = await userWithPasskey(api, `pk-${flag}`)
      const patch = await api.call('PATCH', `/api/admin/users/${u.userId}`, {
        token: admin.token,
        body: { [flag]: true },
      })
      expect(patch.status).toBe(200)
      const { challenge_id, options } = await pk.passkeyOptions()
      const res = await pk.verifyPasskey(challenge_id, u.authenticator.assert(options))
      expect(res.status).toBe(403)
      expect(res.body).toMatchObject({ code, status: 403 })
      // Refused, not failed: the right passkey did not count towards a lockout.
      const row = await t.services.db
        .selectFrom('login_lockouts')
        .selectAll()
        .where('user_id', '=', u.userId)
        .executeTakeFirst()
      expect(row?.failures ?? 0).toBe(0)
    }
  })

  it('throttles an unknown passkey as it throttles an unknown username', async () => {
    const stranger = new SoftAuthenticator('ES256')
    const tk = await registerAndLogin(api, 'stranger-source')
    await pk.register(tk.access_token, stranger)
    const mfa = await pk.loginPasswordless(stranger)
    const [passkey] = (
      await api.get<{ credentials: { id: string }[] }>(
        '/api/auth/webauthn/credentials',
        mfa.access_token,
      )
    ).body.credentials
    await api.delete(`/api/auth/webauthn/credentials/${passkey!.id}`, mfa.access_token)
    for (let i = 0; i < 5; i++) {
      const { challenge_id, options } = await pk.passkeyOptions()
      refusedAsInvalidCode(await pk.verifyPasskey(challenge_id, stranger.assert(options)))
    }
    const { challenge_id, options } = await pk.passkeyOptions()
    expect((await pk.verifyPasskey(challenge_id, stranger.assert(options))).status).toBe(429)
  })
})
