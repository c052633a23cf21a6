import { beforeAll, describe, expect, it } from 'vitest'
import { fromBase32, totpCodeAt } from '../../src/services/mfa/totp.js'
import { standalone } from '../support/codes.js'
import { testDatabases } from '../support/databases.js'
import { startApp, useTestApp } from '../support/harness.js'
import { client } from '../support/http.js'
import { apiKey } from '../support/principals.js'

const databases = await testDatabases()

describe.each(databases)('TOTP as a service on $name', (database) => {
  const { t, api } = useTestApp(database, { env: { APP_NAME: 'Acme Auth' } })
  let keyA: string
  let keyB: string

  beforeAll(async () => {
    keyA = (await apiKey(t, ['totp'], 'tenant-a')).key
    keyB = (await apiKey(t, ['totp', 'introspect'], 'tenant-b')).key
  })

  const call = (
    key: string | undefined,
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    body?: unknown,
  ) => api.call(method, url, { body, headers: key === undefined ? {} : { 'x-api-key': key } })

  /** Registers a subject and returns its secret, read back from the provisioning URI. */
  async function register(key: string, username: string): Promise<Buffer> {
    const res = await call(key, 'POST', '/api/totp/register', { username })
    expect(res.status).toBe(201)
    const uri = new URL(res.body.provisioning_uri as string)
    return fromBase32(uri.searchParams.get('secret')!)!
  }

  const auditOf = (event: string) =>
    t.services.db
      .selectFrom('audit_events')
      .selectAll()
      .where('event', '=', event)
      .orderBy('id')
      .execute()

  it('registers a subject with a provisioning URI and a PNG QR code', async () => {
    const res = await call(keyA, 'POST', '/api/totp/register', { username: 'user-42' })
    expect(res.status).toBe(201)
    expect(res.body).toMatchObject({
      username: 'user-42',
      created_at: '2026-01-01T00:00:00.000Z',
      verified_once: false,
    })
    const uri = res.body.provisioning_uri as string
    expect(uri).toMatch(
      /^otpauth:\/\/totp\/Acme%20Auth:user-42\?secret=[A-Z2-7]{32}&issuer=Acme%20Auth&algorithm=SHA1&digits=6&period=30$/,
    )
    // Regression: the PNG used to come as bare base64; SPEC §4.7 (and the clients of the
    // service Gatehouse replaces, which put it into <img src>) want a data URL.
    const qr = res.body.qr_code_base64 as string
    expect(qr).toMatch(/^data:image\/png;base64,[A-Za-z0-9+/]+=*$/)
    const png = Buffer.from(qr.slice('data:image/png;base64,'.length), 'base64')
    expect(png.subarray(0, 8)).toEqual(
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    )
    const stored = await t.services.db.selectFrom('totp_subjects').selectAll().execute()
    const secret = new URL(uri).searchParams.get('secret')!
    expect(JSON.stringify(stored)).not.toContain(secret)
    const [event] = await auditOf('totp_service_registered')
    expect(event).toMatchObject({ outcome: 'success', username: 'user-42' })
    expect(event!.details).not.toContain(secret)
  })

  it('refuses registering the same subject twice (409), audited as a failure', async () => {
    const res = await call(keyA, 'POST', '/api/totp/register', { username: 'user-42' })
    expect(res.status).toBe(409)
    expect(res.body.code).toBe('conflict')
    const events = await auditOf('totp_service_registered')
    expect(events.at(-1)).toMatchObject({ outcome: 'failure' })
  })

  it('verifies a code once, marks verified_once, and refuses the replay', async () => {
    const secret = await register(keyA, 'verify-me')
    const code = totpCodeAt(secret, t.clock.now().getTime())
    const ok = await call(keyA, 'POST', '/api/totp/verify', { username: 'verify-me', otp: code })
    expect(ok.status).toBe(200)
    expect(ok.body).toEqual({
      status: 'success',
      username: 'verify-me',
      message: expect.any(String),
    })
    const replay = await call(keyA, 'POST', '/api/totp/verify', {
      username: 'verify-me',
      otp: code,
    })
    expect(replay.status).toBe(401)
    expect(replay.body.code).toBe('invalid_code')
    const got = await call(keyA, 'GET', '/api/totp/verify-me')
    expect(got.status).toBe(200)
    expect(got.body).toEqual({
      username: 'verify-me',
      created_at: expect.any(String),
      verified_once: true,
    })
    const events = (await auditOf('totp_service_verified')).filter(
      (e) => e.username === 'verify-me',
    )
    expect(events.map((e) => e.outcome)).toEqual(['success', 'failure'])
    expect(JSON.stringify(events)).not.toMatch(standalone(code))
  })

  it('accepts one step either side and refuses two steps away', async () => {
    const secret = await register(keyA, 'window')
    const now = t.clock.now().getTime()
    const verify = (otp: string) =>
      call(keyA, 'POST', '/api/totp/verify', { username: 'window', otp })
    expect((await verify(totpCodeAt(secret, now - 60_000))).status).toBe(401)
    expect((await verify(totpCodeAt(secret, now + 60_000))).status).toBe(401)
    expect((await verify(totpCodeAt(secret, now - 30_000))).status).toBe(200)
    // An older step than the last accepted one is a replay even though it is in the window.
    expect((await verify(totpCodeAt(secret, now + 30_000))).status).toBe(200)
    expect((await verify(totpCodeAt(secret, now))).status).toBe(401)
    t.clock.advance('60s')
    expect((await verify(totpCodeAt(secret, t.clock.now().getTime()))).status).toBe(200)
  })

  it('throttles guesses at one subject (RFC 4226 §7.3), not its neighbours', async () => {
    const secret = await register(keyA, 'guessed')
    await register(keyA, 'neighbour')
    const right = totpCodeAt(secret, t.clock.now().getTime())
    const wrong = right === '000000' ? '000001' : '000000'
    const verify = (username: string, otp: string) =>
      call(keyA, 'POST', '/api/totp/verify', { username, otp })
    const guesses = await Promise.all(Array.from({ length: 12 }, () => verify('guessed', wrong)))
    const statuses = guesses.map((g) => g.status)
    // Counted before checking: parallel guesses never get more than 10 checks.
    expect(statuses.filter((s) => s === 401)).toHaveLength(10)
    expect(statuses.filter((s) => s === 429)).toHaveLength(2)
    const limited = guesses.find((g) => g.status === 429)!
    expect(limited.body.code).toBe('rate_limited')
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0)
    expect((await verify('guessed', right)).status).toBe(429)
    expect((await verify('neighbour', wrong)).status).toBe(401)
    // Every call is audited (SPEC §4.7): the throttled guesses too, with the key that sent them.
    const throttled = (await auditOf('totp_service_verified')).filter(
      (e) => e.username === 'guessed' && e.details?.includes('"throttled"'),
    )
    expect(throttled).toHaveLength(3)
    expect(JSON.parse(throttled[0]!.details!)).toMatchObject({ owner: 'tenant-a' })
  })

  it('lets exactly one of two concurrent requests with the same code through', async () => {
    const secret = await register(keyA, 'race')
    t.clock.advance('30s')
    const code = totpCodeAt(secret, t.clock.now().getTime())
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        call(keyA, 'POST', '/api/totp/verify', { username: 'race', otp: code }),
      ),
    )
    expect(results.map((r) => r.status).sort()).toEqual([200, 401, 401, 401, 401, 401, 401, 401])
  })

  it.each(['000000', '12345', 'abcdef', '', '1234567'])(
    'refuses the code %j with invalid_code',
    async (otp) => {
      await call(keyA, 'POST', '/api/totp/register', { username: 'wrong-codes' })
      const res = await call(keyA, 'POST', '/api/totp/verify', { username: 'wrong-codes', otp })
      expect(res.status).toBe(401)
      expect(res.body.code).toBe('invalid_code')
    },
  )

  it("keeps owners apart: another owner's subject is 404 everywhere", async () => {
    const secret = await register(keyA, 'tenant-a-user')
    const code = totpCodeAt(secret, t.clock.now().getTime())
    const asB = (method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown) =>
      call(keyB, method, url, body)
    expect((await asB('GET', '/api/totp/tenant-a-user')).status).toBe(404)
    const verify = await asB('POST', '/api/totp/verify', { username: 'tenant-a-user', otp: code })
    expect(verify.status).toBe(404)
    expect(verify.body.code).toBe('not_found')
    expect((await asB('DELETE', '/api/totp/tenant-a-user')).status).toBe(404)
    // The same name under owner B is B's own, unrelated subject.
    expect((await asB('POST', '/api/totp/register', { username: 'tenant-a-user' })).status).toBe(
      201,
    )
    // A's subject is untouched and its code still works for A.
    const ok = await call(keyA, 'POST', '/api/totp/verify', {
      username: 'tenant-a-user',
      otp: code,
    })
    expect(ok.status).toBe(200)
  })

  it('deletes a subject: 204, then 404', async () => {
    await register(keyA, 'delete-me')
    expect((await call(keyA, 'DELETE', '/api/totp/delete-me')).status).toBe(204)
    expect((await call(keyA, 'GET', '/api/totp/delete-me')).status).toBe(404)
    expect((await call(keyA, 'DELETE', '/api/totp/delete-me')).status).toBe(404)
    const events = (await auditOf('totp_service_deleted')).filter((e) => e.username === 'delete-me')
    expect(events.map((e) => e.outcome)).toEqual(['success', 'failure'])
    // Every call is audited (SPEC §4.7), look-ups too.
    const reads = (await auditOf('totp_service_read')).filter((e) => e.username === 'delete-me')
    expect(reads.map((e) => [e.outcome, JSON.parse(e.details ?? '{}').reason])).toEqual([
      ['failure', 'unknown_subject'],
    ])
  })

  it('answers 404 for an unknown subject', async () => {
    const res = await call(keyA, 'GET', '/api/totp/nobody-here')
    expect(res.status).toBe(404)
    expect(res.body.code).toBe('not_found')
  })

  it('names subjects verbatim, with URL-escaped characters', async () => {
    const name = 'Ünïcode user@example.com'
    const secret = await register(keyA, name)
    const res = await call(keyA, 'GET', `/api/totp/${encodeURIComponent(name)}`)
    expect(res.status).toBe(200)
    expect(res.body.username).toBe(name)
    const code = totpCodeAt(secret, t.clock.now().getTime())
    expect(
      (await call(keyA, 'POST', '/api/totp/verify', { username: name, otp: code })).status,
    ).toBe(200)
  })

  /** Regression: 255 emoji (510 UTF-16 units) registered, then GET and DELETE said 404. */
  it('reads and deletes the longest subject the schema takes, in any script', async () => {
    const name = '\u{1F600}'.repeat(255)
    await register(keyA, name)
    const path = `/api/totp/${encodeURIComponent(name)}`
    const res = await call(keyA, 'GET', path)
    expect(res.status).toBe(200)
    expect(res.body.username).toBe(name)
    expect((await call(keyA, 'DELETE', path)).status).toBe(204)
    expect((await call(keyA, 'GET', path)).status).toBe(404)
  })

  it.each([
    [{}, 'username'],
    [{ username: '' }, 'username'],
    [{ username: 'x'.repeat(256) }, 'username'],
    [{ username: 'bad\nname' }, 'username'],
    [{ username: 42 }, 'username'],
  ])('refuses register body %j with validation_error', async (body, field) => {
    const res = await call(keyA, 'POST', '/api/totp/register', body)
    expect(res.status).toBe(400)
    expect(res.body.code).toBe('validation_error')
    expect(res.body.detail).toContain(field)
  })

  it('audits a call whose body it cannot take, as the call it was', async () => {
    const long = 'v'.repeat(300)
    const bad = await call(keyA, 'POST', '/api/totp/verify', { username: long, otp: '123456' })
    expect(bad.status).toBe(400)
    const typed = await t.app.inject({
      method: 'POST',
      url: '/api/totp/verify',
      headers: { 'x-api-key': keyA, 'content-type': 'text/plain' },
      payload: 'username=someone&otp=123456',
    })
    expect(typed.statusCode).toBe(415)
    const broken = await t.app.inject({
      method: 'POST',
      url: '/api/totp/verify',
      headers: { 'x-api-key': keyA, 'content-type': 'application/json' },
      payload: '{"username": ',
    })
    expect(broken.statusCode).toBe(400)
    const notUtf8 = await t.app.inject({
      method: 'POST',
      url: '/api/totp/verify',
      headers: { 'x-api-key': keyA, 'content-type': 'application/json' },
      payload: Buffer.concat([
        Buffer.from('{"username":"a'),
        Buffer.from([0xff]),
        Buffer.from('"}'),
      ]),
    })
    expect(notUtf8.statusCode).toBe(400)
    const rows = (await auditOf('totp_service_verified')).filter((e) => e.outcome === 'failure')
    const reasons = rows.map((e) => (JSON.parse(e.details!) as { reason: string }).reason)
    expect(reasons.slice(-4)).toEqual([
      'validation_error',
      'unsupported_media_type',
      'malformed_request',
      'malformed_request',
    ])
    // The subject as sent, cut to the audit log's column; never the code.
    expect(rows.at(-4)!.username).toBe(long.slice(0, 128))
    expect(JSON.stringify(rows)).not.toContain('123456')
  })

  it('needs an API key with the totp scope', async () => {
    const missing = await call(undefined, 'GET', '/api/totp/user-42')
    expect(missing.status).toBe(401)
    expect(missing.body.code).toBe('unauthorized')
    expect(missing.headers['www-authenticate']).toContain('X-API-Key')
    const unknown = await call('ghk_' + 'A'.repeat(43), 'GET', '/api/totp/user-42')
    expect(unknown.status).toBe(401)
    expect(unknown.body.code).toBe('invalid_api_key')
    const garbage = await call('not a key', 'GET', '/api/totp/user-42')
    expect(garbage.body.code).toBe('invalid_api_key')
    const introspectOnly = (await apiKey(t, ['introspect'], 'tenant-a')).key
    const wrongScope = await call(introspectOnly, 'GET', '/api/totp/user-42')
    expect(wrongScope.status).toBe(403)
    expect(wrongScope.body.code).toBe('forbidden')
    // Refused before the service, and audited all the same.
    const reasons = (await auditOf('totp_service_read'))
      .filter((e) => e.username === 'user-42' && e.outcome === 'failure')
      .map((e) => (JSON.parse(e.details!) as { reason: string }).reason)
    expect(reasons).toEqual(['no_api_key', 'invalid_api_key', 'invalid_api_key', 'missing_scope'])
  })

  it('refuses a revoked key from then on', async () => {
    const made = await apiKey(t, ['totp'], 'tenant-a')
    expect((await call(made.key, 'GET', '/api/totp/user-42')).status).toBe(200)
    await t.services.apiKeys.revoke(made.id, { actorId: null })
    const res = await call(made.key, 'GET', '/api/totp/user-42')
    expect(res.status).toBe(401)
    expect(res.body.code).toBe('invalid_api_key')
  })

  it('records when a key was last used', async () => {
    const made = await apiKey(t, ['totp'], 'tenant-c')
    t.clock.advance('5m')
    await call(made.key, 'GET', '/api/totp/anyone')
    const row = await t.services.db
      .selectFrom('api_keys')
      .select('last_used_at')
      .where('id', '=', made.id)
      .executeTakeFirstOrThrow()
    expect(Number(row.last_used_at)).toBe(t.clock.now().getTime())
  })

  it('re-encrypts subject secrets on `secrets rotate`, and they still verify', async () => {
    const secret = await register(keyA, 'rotate-me')
    const rotated = await startApp(t.config.databaseUrl, {
      clock: t.clock,
      env: {
        APP_NAME: 'Acme Auth',
        GATEHOUSE_SECRET_KEY: Buffer.alloc(32, 9).toString('base64'),
        GATEHOUSE_OLD_SECRET_KEYS: t.config.secrets.key.toString('base64'),
      },
    })
    try {
      let total = 0
      for (const r of rotated.services.resealers) total += await r.reseal()
      expect(total).toBeGreaterThan(0)
      const again = await rotated.services.totpService.reseal()
      expect(again).toBe(0)
      t.clock.advance('30s')
      const res = await client(rotated.app).call('POST', '/api/totp/verify', {
        headers: { 'x-api-key': keyA },
        body: { username: 'rotate-me', otp: totpCodeAt(secret, t.clock.now().getTime()) },
      })
      expect(res.status).toBe(200)
    } finally {
      await rotated.close()
    }
  })
})
