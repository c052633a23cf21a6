import { decodeJwt } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { testDatabases } from '../support/databases.js'
import { startApp, useTestApp } from '../support/harness.js'
import { client, registerAndLogin, STRONG_PASSWORD, type Tokens } from '../support/http.js'

const databases = await testDatabases()

describe.each(databases)('refresh tokens and sessions on $name', (database) => {
  const { t, api } = useTestApp(database)

  beforeAll(async () => {
    await registerAndLogin(api, 'session-user')
  })

  const login = async () => {
    const res = await api.post<Tokens>('/api/auth/login', {
      username: 'session-user',
      password: STRONG_PASSWORD,
    })
    expect(res.status).toBe(200)
    return res.body
  }
  const refresh = (refreshToken: string) =>
    api.post<Tokens>('/api/auth/refresh', { refresh_token: refreshToken })
  const auditCount = async (event: string) =>
    (
      await t.services.db
        .selectFrom('audit_events')
        .select('id')
        .where('event', '=', event)
        .execute()
    ).length

  it('rotates: a refresh mints a new refresh token in the same session, keeping amr', async () => {
    const first = await login()
    t.clock.advance('1m')
    const next = await refresh(first.refresh_token)
    expect(next.status).toBe(200)
    expect(next.body.refresh_token).not.toBe(first.refresh_token)
    expect(next.body.token_type).toBe('Bearer')
    const a = decodeJwt(first.access_token)
    const b = decodeJwt(next.body.access_token)
    expect(b.sid).toBe(a.sid)
    expect(b.amr).toEqual(['pwd'])
    expect(b.jti).not.toBe(a.jti)
  })

  it('stores refresh tokens only as hashes', async () => {
    const tokens = await login()
    const rows = await t.services.db.selectFrom('refresh_tokens').select(['token_hash']).execute()
    expect(rows.some((r) => r.token_hash === tokens.refresh_token)).toBe(false)
    expect(rows.every((r) => /^[0-9a-f]{64}$/.test(r.token_hash))).toBe(true)
  })

  it('20 concurrent refreshes of one token mint exactly one successor, returned to all of them', async () => {
    const tokens = await login()
    const results = await Promise.all(
      Array.from({ length: 20 }, () => refresh(tokens.refresh_token)),
    )
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200))
    const successors = new Set(results.map((r) => r.body.refresh_token))
    expect(successors.size).toBe(1)
    const sid = decodeJwt(tokens.access_token).sid as string
    const minted = await t.services.db
      .selectFrom('refresh_tokens')
      .select('id')
      .where('session_id', '=', sid)
      .execute()
    expect(minted).toHaveLength(2) // the original and its one successor
    // The successor works, and the session is still alive.
    const [successor] = [...successors]
    expect((await refresh(successor!)).status).toBe(200)
  })

  it('returns the same successor within the grace period, even after that successor rotated', async () => {
    const tokens = await login()
    const first = await refresh(tokens.refresh_token)
    const second = await refresh(first.body.refresh_token) // successor rotated on
    expect(second.status).toBe(200)
    t.clock.advance('9s')
    const again = await refresh(tokens.refresh_token)
    expect(again.status).toBe(200)
    expect(again.body.refresh_token).toBe(first.body.refresh_token)
  })

  it('after the grace period, reuse ends the whole session and is audited', async () => {
    const tokens = await login()
    const rotated = await refresh(tokens.refresh_token)
    const reusedBefore = await auditCount('refresh_token_reused')
    t.clock.advance('11s')
    const reuse = await refresh(tokens.refresh_token)
    expect(reuse.status).toBe(401)
    expect((reuse.body as unknown as { code: string }).code).toBe('invalid_token')
    expect(await auditCount('refresh_token_reused')).toBe(reusedBefore + 1)
    // Every token of the session is dead: the legitimate successor and both access tokens.
    expect((await refresh(rotated.body.refresh_token)).status).toBe(401)
    expect((await api.get('/api/auth/me', rotated.body.access_token)).status).toBe(401)
    expect((await api.get('/api/auth/me', tokens.access_token)).status).toBe(401)
  })

  it('forgets the sealed successor once the grace period is over', async () => {
    const tokens = await login()
    const rotated = await refresh(tokens.refresh_token)
    t.clock.advance('11s')
    await refresh(rotated.body.refresh_token)
    const sid = decodeJwt(tokens.access_token).sid as string
    const sealed = await t.services.db
      .selectFrom('refresh_tokens')
      .select('successor_sealed')
      .where('session_id', '=', sid)
      .where('successor_sealed', 'is not', null)
      .execute()
    expect(sealed).toHaveLength(1) // only the one rotated just now
  })

  it('with REFRESH_REUSE_GRACE=0 any second presentation ends the session', async () => {
    const strict = await startApp(t.config.databaseUrl, {
      env: { REFRESH_REUSE_GRACE: '0' },
      clock: t.clock,
    })
    try {
      const strictApi = client(strict.app)
      const tokens = (
        await strictApi.post<Tokens>('/api/auth/login', {
          username: 'session-user',
          password: STRONG_PASSWORD,
        })
      ).body
      const [a, b] = await Promise.all([
        strictApi.post<Tokens>('/api/auth/refresh', { refresh_token: tokens.refresh_token }),
        strictApi.post<Tokens>('/api/auth/refresh', { refresh_token: tokens.refresh_token }),
      ])
      expect([a.status, b.status].sort()).toEqual([200, 401])
      const winner = a.status === 200 ? a : b
      expect(
        (await strictApi.post('/api/auth/refresh', { refresh_token: winner.body.refresh_token }))
          .status,
      ).toBe(401)
    } finally {
      await strict.close()
    }
  })

  it('refuses an expired refresh token, an unknown one and junk', async () => {
    const tokens = await login()
    t.clock.advance('31d')
    expect((await refresh(tokens.refresh_token)).status).toBe(401)
    const unknown = await refresh('x'.repeat(43))
    expect(unknown.status).toBe(401)
    expect((unknown.body as unknown as { code: string }).code).toBe('invalid_token')
    expect((await api.post('/api/auth/refresh', { refresh_token: 42 })).status).toBe(400)
    expect((await api.post('/api/auth/refresh', {})).status).toBe(400)
  })

  it('logout with a refresh token ends the session at once, for its access token too', async () => {
    const tokens = await login()
    expect((await api.get('/api/auth/me', tokens.access_token)).status).toBe(200)
    const out = await api.post('/api/auth/logout', { refresh_token: tokens.refresh_token })
    expect(out.status).toBe(204)
    expect((await api.get('/api/auth/me', tokens.access_token)).status).toBe(401)
    expect((await refresh(tokens.refresh_token)).status).toBe(401)
  })

  it('logout with a Bearer token and no body', async () => {
    const tokens = await login()
    const out = await api.call('POST', '/api/auth/logout', { token: tokens.access_token })
    expect(out.status).toBe(204)
    expect((await api.get('/api/auth/me', tokens.access_token)).status).toBe(401)
    const none = await api.call('POST', '/api/auth/logout')
    expect(none.status).toBe(401)
    expect(none.body.code).toBe('unauthorized')
  })

  it('lists sessions with the current one marked, and revokes another', async () => {
    const a = await login()
    t.clock.advance('1m')
    const b = await login()
    const list = await api.get<{
      sessions: { id: string; current: boolean; created_at: string; last_used_at: string }[]
    }>('/api/auth/sessions', a.access_token)
    expect(list.status).toBe(200)
    const sidA = decodeJwt(a.access_token).sid
    const sidB = decodeJwt(b.access_token).sid as string
    expect(list.body.sessions.find((s) => s.id === sidA)?.current).toBe(true)
    expect(list.body.sessions.find((s) => s.id === sidB)?.current).toBe(false)
    expect(list.body.sessions[0]).toHaveProperty('ip')
    expect(list.body.sessions[0]).toHaveProperty('user_agent')

    const revoke = await api.delete(`/api/auth/sessions/${sidB}`, a.access_token)
    expect(revoke.status).toBe(204)
    expect((await api.get('/api/auth/me', b.access_token)).status).toBe(401)
    expect((await api.get('/api/auth/me', a.access_token)).status).toBe(200)
  })

  it("answers 404 for another user's session and changes nothing", async () => {
    const mine = await login()
    const other = await registerAndLogin(api, 'other-user')
    const res = await api.delete(
      `/api/auth/sessions/${decodeJwt(mine.access_token).sid as string}`,
      other.access_token,
    )
    expect(res.status).toBe(404)
    expect(res.body.code).toBe('not_found')
    expect((await api.get('/api/auth/me', mine.access_token)).status).toBe(200)
  })

  it('updates last_used_at on refresh, not on access', async () => {
    const tokens = await login()
    const sid = decodeJwt(tokens.access_token).sid as string
    const lastUsed = async () =>
      (
        await t.services.db
          .selectFrom('sessions')
          .select('last_used_at')
          .where('id', '=', sid)
          .executeTakeFirstOrThrow()
      ).last_used_at
    const atLogin = await lastUsed()
    t.clock.advance('5m')
    await api.get('/api/auth/me', tokens.access_token)
    expect(await lastUsed()).toBe(atLogin)
    await refresh(tokens.refresh_token)
    expect(await lastUsed()).toBe(atLogin + 5 * 60 * 1000)
  })

  it('logout-all ends every session', async () => {
    const a = await login()
    const b = await login()
    expect((await api.post('/api/auth/logout-all', undefined, a.access_token)).status).toBe(204)
    expect((await api.get('/api/auth/me', a.access_token)).status).toBe(401)
    expect((await api.get('/api/auth/me', b.access_token)).status).toBe(401)
    expect((await refresh(b.refresh_token)).status).toBe(401)
  })

  it('password change keeps this session, ends the others, and the new password works', async () => {
    const tokens = await registerAndLogin(api, 'changer')
    const other = (
      await api.post<Tokens>('/api/auth/login', { username: 'changer', password: STRONG_PASSWORD })
    ).body
    const wrong = await api.post(
      '/api/auth/password/change',
      { current_password: 'not my password at all', new_password: 'a brand new passphrase' },
      tokens.access_token,
    )
    expect(wrong.status).toBe(401)
    expect(wrong.body.code).toBe('invalid_credentials')
    const weak = await api.post(
      '/api/auth/password/change',
      { current_password: STRONG_PASSWORD, new_password: 'password123' },
      tokens.access_token,
    )
    expect(weak.status).toBe(400)
    expect(weak.body.detail).toContain('new_password')
    const ok = await api.post(
      '/api/auth/password/change',
      { current_password: STRONG_PASSWORD, new_password: 'a brand new passphrase' },
      tokens.access_token,
    )
    expect(ok.status).toBe(204)
    expect((await api.get('/api/auth/me', tokens.access_token)).status).toBe(200)
    expect((await api.get('/api/auth/me', other.access_token)).status).toBe(401)
    expect(
      (await api.post('/api/auth/login', { username: 'changer', password: STRONG_PASSWORD }))
        .status,
    ).toBe(401)
    expect(
      (
        await api.post('/api/auth/login', {
          username: 'changer',
          password: 'a brand new passphrase',
        })
      ).status,
    ).toBe(200)
    expect(await auditCount('password_changed')).toBeGreaterThanOrEqual(1)
  })

  it('an ended session is refused by another instance within the revalidation window', async () => {
    const other = await startApp(t.config.databaseUrl, { clock: t.clock })
    try {
      const tokens = await login()
      const otherApi = client(other.app)
      expect((await otherApi.get('/api/auth/me', tokens.access_token)).status).toBe(200)
      expect(
        (await api.post('/api/auth/logout', { refresh_token: tokens.refresh_token })).status,
      ).toBe(204)
      t.clock.advance('3s') // no shared bus here: the other instance re-reads the database
      expect((await otherApi.get('/api/auth/me', tokens.access_token)).status).toBe(401)
    } finally {
      await other.close()
    }
  })
})
