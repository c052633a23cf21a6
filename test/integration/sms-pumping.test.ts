import { describe, expect, it } from 'vitest'
import { testDatabases } from '../support/databases.js'
import { useCaptures } from '../support/captures.js'
import { useTestApp } from '../support/harness.js'
import { STRONG_PASSWORD, type Tokens } from '../support/http.js'
import { useSyncedClock } from '../support/time.js'

/**
 * Regression (issue 9 item 8, SMS pumping): registration texted a code to any number, and
 * only the per-user limit (a new user each time) and the per-IP limit stood in the way:
 * three registrations with one number sent three SMS. Verification codes are now limited
 * per destination too (1 a minute, 5 an hour), whichever account asks; a registration over
 * that limit still creates the account but sends nothing.
 */
const databases = await testDatabases()

describe.each(databases)('verification codes per destination on $name', (database) => {
  const captures = useCaptures()
  // Date moves with the clock: the per-destination limit counts in rate-limiter-flexible.
  const clock = useSyncedClock()
  const { t, api } = useTestApp(database, () => ({
    clock,
    env: captures.env(),
  }))
  let n = 0

  const register = async (contact: { email?: string; phone?: string }) => {
    const username = `pump-${++n}`
    const res = await api.post('/api/auth/register', {
      username,
      password: STRONG_PASSWORD,
      ...contact,
    })
    expect(res.status).toBe(201)
    return username
  }
  // Each send is finished (delivered or refused) before its request answers.
  const textsTo = (phone: string) => captures.sms.inbox.filter((m) => m.to === phone).length
  const mailsTo = (email: string) =>
    captures.mail.inbox.filter((m) => m.to.toLowerCase() === email.toLowerCase()).length
  const tokenOf = async (username: string) =>
    (await api.post<Tokens>('/api/auth/login', { username, password: STRONG_PASSWORD })).body
      .access_token

  it('sends one SMS for three registrations with one number within a minute', async () => {
    const phone = '+14155550301'
    await register({ phone })
    await register({ phone })
    const third = await register({ phone })
    expect(textsTo(phone)).toBe(1)

    // verify-contact/send to that number is refused too, whichever account asks.
    const refused = await api.post(
      '/api/auth/verify-contact/send',
      { channel: 'sms' },
      await tokenOf(third),
    )
    expect(refused.status).toBe(429)
    expect(refused.body).toMatchObject({ status: 429, code: 'rate_limited' })
    const wait = Number(refused.headers['retry-after'])
    expect(wait).toBeGreaterThan(0)
    expect(wait).toBeLessThanOrEqual(60)
    expect(textsTo(phone)).toBe(1)
  })

  it('sends at most five an hour to one number, then answers with the wait', async () => {
    const phone = '+14155550302'
    await register({ phone })
    for (let i = 0; i < 6; i++) {
      clock.advance('61s')
      await register({ phone })
    }
    expect(textsTo(phone)).toBe(5)
    clock.advance('61s')
    const latest = await tokenOf(await register({ phone }))
    const refused = await api.post('/api/auth/verify-contact/send', { channel: 'sms' }, latest)
    expect(refused.status).toBe(429)
    // The first of the five was sent 7 × 61 s ago: it runs out of the hour first.
    const wait = Number(refused.headers['retry-after'])
    expect(wait).toBeGreaterThan(3600 - 7 * 61 - 5)
    expect(wait).toBeLessThanOrEqual(3600 - 7 * 61 + 1)
    clock.advance(`${wait}s`)
    const sent = await api.post(
      '/api/auth/verify-contact/send',
      { channel: 'sms' },
      await tokenOf(`pump-${n}`),
    )
    expect(sent.status).toBe(202)
    expect(textsTo(phone)).toBe(6)
  })

  it('gives the destination slot back when the provider fails', async () => {
    const phone = '+14155550303'
    captures.sms.failNextRequests(1)
    await register({ phone })
    expect(textsTo(phone)).toBe(0)
    // Nothing left: the next account's code to the same number goes out at once.
    await register({ phone })
    expect(textsTo(phone)).toBe(1)
  })

  it('limits email addresses the same way (an address freed and registered again)', async () => {
    const first = await register({ email: 'pumped@example.com' })
    expect(mailsTo('pumped@example.com')).toBe(1)
    // The first account moves away from the address; a new account takes it at once.
    await t.services.db
      .updateTable('users')
      .set({ email: 'elsewhere@example.com', email_normalized: 'elsewhere@example.com' })
      .where('username', '=', first)
      .execute()
    const second = await register({ email: 'Pumped@Example.com', phone: '+14155550304' })
    expect(mailsTo('pumped@example.com')).toBe(1)
    // The refused email does not stop the account's SMS code.
    expect(textsTo('+14155550304')).toBe(1)
    const refused = await api.post(
      '/api/auth/verify-contact/send',
      { channel: 'email' },
      await tokenOf(second),
    )
    expect(refused.status).toBe(429)
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0)
  })
})
