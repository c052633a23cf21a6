import { describe, expect, it } from 'vitest'
import { testDatabases } from '../support/databases.js'
import { useCaptures } from '../support/captures.js'
import { useTestApp } from '../support/harness.js'
import { STRONG_PASSWORD, type Tokens } from '../support/http.js'
import { standalone } from '../support/codes.js'
import { codeIn } from '../support/mail.js'
import { useSyncedClock } from '../support/time.js'

/**
 * Regression: a failing SMTP server or SMS provider turned a code send into a bare 500 and
 * used up the send slot, so the user could not ask again for a minute. SPEC §3: `503
 * delivery_failed`, the send limit is not used up, and the provider's error is logged (for
 * the operator) without the code.
 */
const databases = await testDatabases()

describe.each(databases)('failed code delivery on $name', (database) => {
  const captures = useCaptures()
  // Date moves with the clock: the per-destination limit counts in rate-limiter-flexible.
  const clock = useSyncedClock()
  const { t, api } = useTestApp(database, () => ({
    clock,
    env: captures.env(),
  }))

  async function signedUp(username: string, contact: { email?: string; phone?: string }) {
    const reg = await api.post('/api/auth/register', {
      username,
      password: STRONG_PASSWORD,
      ...contact,
    })
    expect(reg.status).toBe(201)
    if (contact.email) await captures.mail.next(contact.email)
    if (contact.phone) await captures.sms.next(contact.phone)
    const login = await api.post<Tokens>('/api/auth/login', { username, password: STRONG_PASSWORD })
    // Past the one-code-a-minute limit of the registration's own code.
    t.clock.advance('61s')
    return login.body.access_token
  }

  const send = (token: string, channel: 'email' | 'sms') =>
    api.post('/api/auth/verify-contact/send', { channel }, token)

  it('answers 503 delivery_failed when the SMTP server refuses, and gives the slot back', async () => {
    const token = await signedUp('mail-fails', { email: 'mail-fails@example.com' })
    captures.mail.rejectNextMessages(1)
    const failed = await send(token, 'email')
    expect(failed.status).toBe(503)
    expect(String(failed.headers['content-type'])).toContain('application/problem+json')
    expect(failed.body).toMatchObject({ status: 503, code: 'delivery_failed' })
    const lost = codeIn(captures.mail.refused.at(-1)!.text)
    expect(JSON.stringify(failed.body)).not.toMatch(standalone(lost))

    const logged = t.logs.filter((l) => l.includes('provider failed'))
    expect(logged).toHaveLength(1)
    expect(logged[0]).toContain('452')
    expect(logged[0]).toContain('mailbox unavailable')
    expect(t.logs.join('\n')).not.toMatch(standalone(lost))

    // The server is back: asking again right away works (no 429), and the code verifies.
    const again = await send(token, 'email')
    expect(again.status).toBe(202)
    const code = codeIn((await captures.mail.next('mail-fails@example.com')).text)
    // The limit itself still holds for messages that did leave.
    expect((await send(token, 'email')).status).toBe(429)
    const verified = await api.post('/api/auth/verify-contact', {
      username: 'mail-fails',
      channel: 'email',
      code,
    })
    expect(verified.status).toBe(200)
    expect(verified.body.user).toMatchObject({ email_verified: true })
  })

  it('answers 503 delivery_failed when the SMS provider fails, and gives the slot back', async () => {
    const token = await signedUp('sms-fails', { phone: '+14155550150' })
    captures.sms.failNextRequests(1)
    const failed = await send(token, 'sms')
    expect(failed.status).toBe(503)
    expect(failed.body).toMatchObject({ status: 503, code: 'delivery_failed' })
    const lost = codeIn(JSON.parse(captures.sms.failedBodies.at(-1)!).text as string)
    expect(t.logs.join('\n')).not.toMatch(standalone(lost))
    expect(t.logs.some((l) => l.includes('provider failed') && l.includes('HTTP 503'))).toBe(true)

    const again = await send(token, 'sms')
    expect(again.status).toBe(202)
    const code = codeIn((await captures.sms.next('+14155550150')).text)
    const verified = await api.post('/api/auth/verify-contact', {
      username: 'sms-fails',
      channel: 'sms',
      code,
    })
    expect(verified.body.user).toMatchObject({ phone_verified: true })
  })

  it('still creates the account when the code at registration cannot be sent', async () => {
    captures.mail.rejectNextMessages(1)
    const reg = await api.post('/api/auth/register', {
      username: 'reg-mail-fails',
      password: STRONG_PASSWORD,
      email: 'reg-mail-fails@example.com',
    })
    expect(reg.status).toBe(201)
    const login = await api.post<Tokens>('/api/auth/login', {
      username: 'reg-mail-fails',
      password: STRONG_PASSWORD,
    })
    // No minute to wait: the failed send did not count.
    expect((await send(login.body.access_token, 'email')).status).toBe(202)
    await captures.mail.next('reg-mail-fails@example.com')
  })
})
