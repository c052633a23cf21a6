import { randomBytes } from 'node:crypto'
import * as oidc from 'openid-client'
import { describe, expect, it } from 'vitest'
import { sha256Hex } from '../../src/crypto/token-digest.js'
import { createOidcAdapter } from '../../src/services/oidc/adapter.js'
import { createDb } from '../../src/store/db.js'
import { migrateToLatest } from '../../src/store/migrate.js'
import { up as hashIds } from '../../src/store/migrations/0016-oidc-hashed-ids.js'
import { testDatabases } from '../support/databases.js'
import { useFreshDatabase } from '../support/harness.js'
import {
  authorizationUrl,
  browser,
  configFor,
  oauthError,
  redeem,
  registerClient,
  signIn,
  useOidcServer,
  userMaker,
} from '../support/oidc.js'

/**
 * SPEC §5 keeps refresh tokens and one-time codes only as hashes. The provider's storage
 * adapter kept each model under the id the provider gave it, and for authorization codes,
 * access and refresh tokens that id is the value handed to the client (repeated as `jti` in
 * the payload): whoever could read `oidc_payloads` held live OIDC refresh tokens.
 */
describe.each(await testDatabases())('OIDC storage keeps no token on $name', (database) => {
  const srv = useOidcServer(database)
  const newUser = userMaker(srv, 'hashed-storage')

  const allRows = () => srv.server.t.services.db.selectFrom('oidc_payloads').selectAll().execute()

  it('a code flow with offline_access leaves neither code nor tokens in oidc_payloads; refresh and revocation work', async () => {
    const { id: userId, token } = await newUser()
    const config = await configFor(srv.server, await registerClient(srv.server, {}))
    const start = await authorizationUrl(config) // offline_access, prompt=consent
    const callback = await signIn(browser(srv.server), start.url, token)
    const code = callback.searchParams.get('code')!
    const tokens = await redeem(config, callback, start)
    expect(tokens.claims()!.sub).toBe(userId)
    const issued = [code, tokens.access_token, tokens.refresh_token!]
    expect(issued.every((v) => typeof v === 'string' && v.length >= 43)).toBe(true)

    const rows = await allRows()
    for (const value of issued) expect(JSON.stringify(rows)).not.toContain(value)
    // Each is kept, under its hash: the adapter finds them by what the client presents.
    const ids = (model: string) => rows.filter((r) => r.model === model).map((r) => r.id)
    expect(ids('AuthorizationCode')).toEqual([sha256Hex(code)])
    expect(ids('AccessToken')).toEqual([sha256Hex(tokens.access_token)])
    expect(ids('RefreshToken')).toEqual([sha256Hex(tokens.refresh_token!)])

    // The access token is found by its value (userinfo), the refresh token too (rotation).
    expect((await oidc.fetchUserInfo(config, tokens.access_token, userId)).sub).toBe(userId)
    const next = await oidc.refreshTokenGrant(config, tokens.refresh_token!)
    expect(next.refresh_token).toBeTruthy()
    expect(next.refresh_token).not.toBe(tokens.refresh_token)
    const afterRefresh = JSON.stringify(await allRows())
    for (const value of [...issued, next.access_token, next.refresh_token!])
      expect(afterRefresh).not.toContain(value)

    // The spent refresh token is still recognised as spent (consume by hash) and refused.
    expect(await oauthError(oidc.refreshTokenGrant(config, tokens.refresh_token!))).toBe(
      'invalid_grant',
    )
  })

  it('revocation (RFC 7009) finds a hashed access token or refresh token and removes it', async () => {
    const signedIn = async () => {
      const { id: userId, token } = await newUser()
      const config = await configFor(srv.server, await registerClient(srv.server, {}))
      const start = await authorizationUrl(config)
      const callback = await signIn(browser(srv.server), start.url, token)
      return { userId, config, tokens: await redeem(config, callback, start) }
    }
    const isStored = async (value: string) =>
      (await allRows()).some((r) => r.id === sha256Hex(value))

    const a = await signedIn()
    expect(await isStored(a.tokens.access_token)).toBe(true)
    await oidc.tokenRevocation(a.config, a.tokens.access_token)
    expect(await isStored(a.tokens.access_token)).toBe(false)
    expect(await oauthError(oidc.fetchUserInfo(a.config, a.tokens.access_token, a.userId))).toBe(
      'invalid_token',
    )

    const b = await signedIn()
    expect(await isStored(b.tokens.refresh_token!)).toBe(true)
    await oidc.tokenRevocation(b.config, b.tokens.refresh_token!)
    expect(await isStored(b.tokens.refresh_token!)).toBe(false)
    expect(await oauthError(oidc.refreshTokenGrant(b.config, b.tokens.refresh_token!))).toBe(
      'invalid_grant',
    )
  })

  it('the adapter finds, consumes, destroys and revokes hashed models by their raw id; sessions stay findable by uid', async () => {
    const Adapter = createOidcAdapter({
      db: srv.server.t.services.db,
      clock: { now: () => new Date() },
      clients: { metadata: () => Promise.resolve(undefined) },
      log: { warn: (obj, msg) => console.warn(msg, obj) },
    })
    const raw = (name: string) => `${name}-${randomBytes(32).toString('base64url')}`
    const grantId = raw('grant')
    const models = [
      'AuthorizationCode',
      'AccessToken',
      'RefreshToken',
      'PushedAuthorizationRequest',
    ]
    const ids = Object.fromEntries(models.map((m) => [m, raw(m)]))
    for (const m of models)
      await new Adapter(m).upsert(
        ids[m]!,
        { jti: ids[m], kind: m, grantId, accountId: 'acct', clientId: 'client' },
        600,
      )
    const session = { id: raw('session'), uid: raw('uid') }
    await new Adapter('Session').upsert(
      session.id,
      { jti: session.id, uid: session.uid, kind: 'Session', accountId: 'acct' },
      600,
    )

    const stored = JSON.stringify(await allRows())
    for (const m of models) expect(stored).not.toContain(ids[m])
    for (const m of models)
      expect(await new Adapter(m).find(ids[m]!)).toMatchObject({ jti: ids[m], kind: m, grantId })
    expect(await new Adapter('AccessToken').find(sha256Hex(ids.AccessToken!))).toBeUndefined()
    expect(await new Adapter('Session').findByUid(session.uid)).toMatchObject({ jti: session.id })
    await expect(new Adapter('AccessToken').findByUid('x')).rejects.toThrow(/stored hashed/)

    // Single use still holds: the second consume of a code is refused and revokes its grant.
    await new Adapter('AuthorizationCode').consume(ids.AuthorizationCode!)
    expect(await new Adapter('AuthorizationCode').find(ids.AuthorizationCode!)).toHaveProperty(
      'consumed',
    )
    await expect(
      new Adapter('AuthorizationCode').consume(ids.AuthorizationCode!),
    ).rejects.toMatchObject({ error: 'invalid_grant' })
    expect(await new Adapter('RefreshToken').find(ids.RefreshToken!)).toBeUndefined()

    await new Adapter('PushedAuthorizationRequest').destroy(ids.PushedAuthorizationRequest!)
    expect(
      await new Adapter('PushedAuthorizationRequest').find(ids.PushedAuthorizationRequest!),
    ).toBeUndefined()
    const grantId2 = raw('grant')
    const token2 = raw('AccessToken')
    await new Adapter('AccessToken').upsert(token2, { jti: token2, grantId: grantId2 }, 600)
    await new Adapter('AccessToken').revokeByGrantId(grantId2)
    expect(await new Adapter('AccessToken').find(token2)).toBeUndefined()
  })
})

/**
 * Rows written before the fix hold raw codes and tokens; migration 0016 hashes their ids and
 * drops `jti`, so the tokens applications hold keep working after the upgrade.
 */
describe.each(await testDatabases())('migration 0016 on $name', (database) => {
  const fresh = useFreshDatabase(database)

  it('hashes the ids of existing token rows, drops their jti, keeps sessions and grants, and may run again', async () => {
    const handle = createDb(fresh.url)
    try {
      const { db } = handle
      await migrateToLatest(db)
      const raw = () => randomBytes(32).toString('base64url')
      const row = (model: string, id: string, payload: Record<string, unknown>) => ({
        model,
        id,
        payload: JSON.stringify({ jti: id, kind: model, ...payload }),
        grant_id: (payload.grantId as string | undefined) ?? null,
        uid: (payload.uid as string | undefined) ?? null,
        user_code: null,
        session_uid: null,
        account_id: 'acct',
        client_id: 'client',
        expires_at: Date.now() + 600_000,
        consumed_at: null,
      })
      const grantId = raw()
      const session = { id: raw(), uid: raw() }
      // Many rows of one model, so the conversion pages through more than one batch.
      const refreshTokens = Array.from({ length: 1203 }, raw)
      const code = raw()
      await db
        .insertInto('oidc_payloads')
        .values([
          row('Grant', grantId, {}),
          row('Session', session.id, { uid: session.uid }),
          row('AuthorizationCode', code, { grantId }),
        ])
        .execute()
      for (let i = 0; i < refreshTokens.length; i += 200)
        await db
          .insertInto('oidc_payloads')
          .values(refreshTokens.slice(i, i + 200).map((t) => row('RefreshToken', t, { grantId })))
          .execute()

      await hashIds(db)
      const converted = await db.selectFrom('oidc_payloads').selectAll().execute()
      const text = JSON.stringify(converted)
      for (const value of [code, ...refreshTokens]) expect(text).not.toContain(value)
      expect(text).toContain(session.id)
      expect(converted.filter((r) => r.model === 'RefreshToken')).toHaveLength(1203)

      await hashIds(db) // a second run (say after a crash half way) changes nothing
      expect(await db.selectFrom('oidc_payloads').selectAll().execute()).toEqual(converted)

      const Adapter = createOidcAdapter({
        db,
        clock: { now: () => new Date() },
        clients: { metadata: () => Promise.resolve(undefined) },
        log: { warn: (obj, msg) => console.warn(msg, obj) },
      })
      for (const t of [refreshTokens[0]!, refreshTokens[1202]!])
        expect(await new Adapter('RefreshToken').find(t)).toMatchObject({ jti: t, grantId })
      expect(await new Adapter('AuthorizationCode').find(code)).toMatchObject({ jti: code })
      expect(await new Adapter('Session').findByUid(session.uid)).toMatchObject({
        jti: session.id,
      })
      expect(await new Adapter('Grant').find(grantId)).toMatchObject({ jti: grantId })
    } finally {
      await handle.close()
    }
  })
})
