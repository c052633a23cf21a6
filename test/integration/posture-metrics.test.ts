import { describe, expect, it } from 'vitest'
import { testDatabases } from '../support/databases.js'
import { useTestApp } from '../support/harness.js'
import { STRONG_PASSWORD } from '../support/http.js'

const databases = await testDatabases()

/** Value of one series in Prometheus text, or undefined when it is not exported. */
function series(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `))
  return line === undefined ? undefined : Number(line.split(' ')[1])
}

describe.each(databases)('posture metrics on $name', (database) => {
  const { t, api } = useTestApp(database)
  const scrape = async () => (await api.get('/metrics')).raw.body
  const context = { ip: '192.0.2.1', userAgent: 'posture-test' }

  /** A user with exactly these factors, written straight to the tables they live in. */
  async function user(
    username: string,
    roles: string[],
    factors: {
      totp?: boolean
      email?: boolean
      sms?: boolean
      webauthn?: boolean
      backupLeft?: number
    } = {},
  ): Promise<string> {
    const db = t.services.db
    const id = await t.services.accounts.create({ username, password: STRONG_PASSWORD, roles })
    const now = t.clock.now().getTime()
    if (factors.totp)
      await db
        .insertInto('totp_secrets')
        .values({
          user_id: id,
          secret_sealed: 'x',
          enabled_at: now,
          last_step: null,
          created_at: now,
        })
        .execute()
    for (const channel of ['email', 'sms'] as const)
      if (factors[channel])
        await db
          .insertInto('mfa_channels')
          .values({ user_id: id, channel, created_at: now })
          .execute()
    if (factors.webauthn)
      await db
        .insertInto('webauthn_credentials')
        .values({
          id: `${id}-pk`,
          user_id: id,
          credential_id: `${id}-cred`,
          credential_id_hash: `${id}-hash`,
          public_key: 'x',
          counter: 0,
          transports: '[]',
          name: 'Passkey',
          created_at: now,
          last_used_at: null,
        })
        .execute()
    if (factors.backupLeft !== undefined)
      for (let i = 0; i < 10; i++)
        await db
          .insertInto('backup_codes')
          .values({
            id: `${id}-${i}`,
            user_id: id,
            code_hash: `${id}-${i}`,
            used_at: i < 10 - factors.backupLeft ? now : null,
            created_at: now,
          })
          .execute()
    return id
  }

  it('counts users, factors and sessions of a known population', async () => {
    await t.services.roleAdmin.create(
      { name: 'doctor', permissions: ['products:write'] },
      { actorId: null },
    )
    const admin = await user('pm-admin', ['admin', 'user'], { totp: true, backupLeft: 10 })
    await user('pm-plain', ['user'])
    await user('pm-sms', ['user'], { sms: true })
    await user('pm-email-sms', ['user', 'doctor'], { email: true, sms: true })
    await user('pm-low', ['doctor'], { totp: true, backupLeft: 2 })
    await user('pm-doc', ['doctor'])
    // Passkeys merged after posture metrics, which counted nobody's (webauthn was 0): a
    // passkey is a second factor here as at login.
    await user('pm-passkey', ['doctor'], { webauthn: true })
    await user('pm-sms-passkey', ['user'], { sms: true, webauthn: true })
    const first = await t.services.sessions.start({ userId: admin, amr: ['pwd'], context })
    await t.services.sessions.start({ userId: admin, amr: ['pwd'], context })
    await t.services.sessions.endAll(admin, 'logout', { exceptSessionId: first.sessionId })
    const low = await t.services.db
      .selectFrom('users')
      .select('id')
      .where('username', '=', 'pm-low')
      .executeTakeFirstOrThrow()
    await t.services.sessions.start({ userId: low.id, amr: ['pwd'], context })

    const text = await scrape()
    expect(series(text, 'gatehouse_users', '{role="admin"}')).toBe(1)
    expect(series(text, 'gatehouse_users', '{role="user"}')).toBe(5)
    expect(series(text, 'gatehouse_users', '{role="doctor"}')).toBe(4)
    expect(series(text, 'gatehouse_users_with_mfa', '{method="totp"}')).toBe(2)
    expect(series(text, 'gatehouse_users_with_mfa', '{method="email"}')).toBe(1)
    expect(series(text, 'gatehouse_users_with_mfa', '{method="sms"}')).toBe(3)
    expect(series(text, 'gatehouse_users_with_mfa', '{method="backup_code"}')).toBe(2)
    expect(series(text, 'gatehouse_users_with_mfa', '{method="webauthn"}')).toBe(2)
    expect(series(text, 'gatehouse_users_without_mfa', '{role="admin"}')).toBe(0)
    expect(series(text, 'gatehouse_users_without_mfa', '{role="user"}')).toBe(1)
    expect(series(text, 'gatehouse_users_without_mfa', '{role="doctor"}')).toBe(1)
    expect(series(text, 'gatehouse_users_low_backup_codes')).toBe(1)
    expect(series(text, 'gatehouse_users_sms_only')).toBe(1)
    expect(series(text, 'gatehouse_sessions_active')).toBe(2)
  })

  it('asks the database again only after 60 s of the clock, however often it is scraped', async () => {
    await user('pm-later', ['user'])
    const before = await scrape()
    expect(series(before, 'gatehouse_users', '{role="user"}')).toBe(5)
    t.clock.advance('59s')
    expect(series(await scrape(), 'gatehouse_users', '{role="user"}')).toBe(5)
    t.clock.advance('1s')
    const after = await scrape()
    expect(series(after, 'gatehouse_users', '{role="user"}')).toBe(6)
    expect(series(after, 'gatehouse_users_without_mfa', '{role="user"}')).toBe(2)
  })

  it('counts a session as active only while its refresh token can be used', async () => {
    t.clock.advance('31d')
    expect(series(await scrape(), 'gatehouse_sessions_active')).toBe(0)
  })
})

/** The posture gauges say how many admins lack a second factor: a scraper's token may guard them. */
describe('/metrics with METRICS_TOKEN', () => {
  const token = 'scrape-7f3a9c2e4b8d1f6a0c5e9b3d7a2f4c8e'
  const { api } = useTestApp(databases[0]!, { env: { METRICS_TOKEN: token } })

  it('answers only the scraper holding the token', async () => {
    const none = await api.get('/metrics')
    expect(none.status).toBe(401)
    expect(none.body.code).toBe('unauthorized')
    expect(none.headers['www-authenticate']).toBe('Bearer')
    const wrong = await api.get('/metrics', `${token.slice(0, -1)}0`)
    expect(wrong.status).toBe(401)
    expect(wrong.raw.body).not.toContain('gatehouse_')

    const scraped = await api.get('/metrics', token)
    expect(scraped.status).toBe(200)
    expect(scraped.raw.body).toContain('gatehouse_http_requests_total')
  })
})
