import * as oidc from 'openid-client'
import { decodeProtectedHeader, type JSONWebKeySet } from 'jose'
import { describe, expect, it } from 'vitest'
import { testDatabases } from '../support/databases.js'
import { STRONG_PASSWORD } from '../support/http.js'
import {
  browser,
  gatehouseLogin,
  ISSUER,
  location,
  useOidcServer,
  type Browser,
  type OidcServer,
} from '../support/oidc.js'

const databases = await testDatabases()
const APP = 'http://app.test'
const CALLBACK = `${APP}/callback`

interface Registered {
  client_id: string
  client_secret?: string
}

async function registerClient(
  server: OidcServer,
  body: Record<string, unknown>,
): Promise<Registered> {
  const { t } = server
  const { client, clientSecret } = await t.services.oidcClients.create(
    {
      name: (body.name as string | undefined) ?? 'Example app',
      type: (body.type as 'public' | 'confidential') ?? 'public',
      redirectUris: (body.redirect_uris as string[]) ?? [CALLBACK],
      postLogoutRedirectUris: (body.post_logout_redirect_uris as string[]) ?? [`${APP}/bye`],
      requireMfa: body.require_mfa as boolean | undefined,
      scopes: body.scopes as string[] | undefined,
      resources: body.resources as string[] | undefined,
      idTokenSignedResponseAlg: body.id_token_signed_response_alg as 'RS256' | 'EdDSA' | undefined,
    },
    { actorId: null },
  )
  return { client_id: client.clientId, client_secret: clientSecret }
}

async function configFor(server: OidcServer, c: Registered): Promise<oidc.Configuration> {
  return oidc.discovery(
    new URL(ISSUER),
    c.client_id,
    undefined,
    c.client_secret ? oidc.ClientSecretBasic(c.client_secret) : oidc.None(),
    server.clientOptions,
  )
}

interface Started {
  url: URL
  verifier: string
  state: string
  nonce: string
}

async function authorizationUrl(
  config: oidc.Configuration,
  extra: Record<string, string> = {},
): Promise<Started> {
  const verifier = oidc.randomPKCECodeVerifier()
  const state = oidc.randomState()
  const nonce = oidc.randomNonce()
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: CALLBACK,
    scope: 'openid profile email roles offline_access',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    prompt: 'consent',
    ...extra,
  })
  return { url, verifier, state, nonce }
}

/** Drives login and consent through the interaction API, as the web UI does; returns the callback URL. */
async function signIn(
  b: Browser,
  start: URL,
  token: string,
  opts: { allow?: boolean } = {},
): Promise<URL> {
  let res = await b.go(start.toString())
  for (let step = 0; step < 4; step++) {
    const to = location(res)
    if (to.startsWith(APP)) return new URL(to)
    const uid = /^\/oidc-interaction\/([A-Za-z0-9_-]+)$/.exec(to)?.[1]
    if (!uid) throw new Error(`unexpected redirect ${to}`)
    const details = await b.go(`/api/oidc/interaction/${uid}`)
    expect(details.status).toBe(200)
    const view = (await details.json()) as { prompt: { name: string } }
    const action = view.prompt.name === 'login' ? 'login' : 'consent'
    const answer = await b.go(`/api/oidc/interaction/${uid}/${action}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(action === 'consent' ? { allow: opts.allow ?? true } : {}),
    })
    const body = (await answer.json()) as { redirect_to?: string; code?: string }
    if (answer.status !== 200)
      throw new Error(`${action}: ${answer.status} ${JSON.stringify(body)}`)
    res = await b.go(body.redirect_to!)
  }
  throw new Error('too many interaction steps')
}

describe.each(databases)('OpenID provider on $name', (database) => {
  const srv = useOidcServer(database)
  let n = 0
  const newUser = async (email?: string) => {
    const username = `oidc-user-${++n}`
    const id = await srv.server.t.services.accounts.create({
      username,
      password: STRONG_PASSWORD,
      roles: ['user'],
      ...(email ? { email } : {}),
    })
    return { id, username, token: await gatehouseLogin(srv.server, username) }
  }

  it('discovery names the issuer, code flow with S256 only, and the one JWKS', async () => {
    const res = await srv.server.fetch(`${ISSUER}/.well-known/openid-configuration`)
    expect(res.status).toBe(200)
    const doc = (await res.json()) as Record<string, unknown>
    expect(doc.issuer).toBe(ISSUER)
    expect(doc.authorization_endpoint).toBe(`${ISSUER}/oidc/auth`)
    expect(doc.jwks_uri).toBe(`${ISSUER}/.well-known/jwks.json`)
    expect(doc.response_types_supported).toEqual(['code'])
    expect(doc.code_challenge_methods_supported).toEqual(['S256'])
    expect(doc.grant_types_supported).not.toContain('password')
    expect(doc.grant_types_supported).not.toContain('implicit')
    expect(doc.end_session_endpoint).toBe(`${ISSUER}/oidc/session/end`)
    expect(doc.revocation_endpoint).toBe(`${ISSUER}/oidc/token/revocation`)
    expect(new Set(doc.id_token_signing_alg_values_supported as string[])).toEqual(
      new Set(['RS256', 'EdDSA']),
    )
    const jwks = (await (
      await srv.server.fetch(`${ISSUER}/.well-known/jwks.json`)
    ).json()) as JSONWebKeySet
    expect(new Set(jwks.keys.map((k) => k.alg))).toEqual(new Set(['EdDSA', 'RS256']))
  })

  it('a public client signs a person in with code + PKCE; ID token and userinfo follow the scopes', async () => {
    const user = await newUser('person@example.test')
    const registered = await registerClient(srv.server, { type: 'public' })
    const config = await configFor(srv.server, registered)
    const start = await authorizationUrl(config)
    const callback = await signIn(browser(srv.server), start.url, user.token)
    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: start.verifier,
      expectedState: start.state,
      expectedNonce: start.nonce,
    })
    const claims = tokens.claims()!
    expect(claims.sub).toBe(user.id)
    expect(claims.iss).toBe(ISSUER)
    expect(claims.amr).toEqual(['pwd'])
    expect(claims.acr).toBe('pwd')
    expect(decodeProtectedHeader(tokens.id_token!).alg).toBe('RS256')
    expect(tokens.refresh_token).toBeTruthy()
    const info = await oidc.fetchUserInfo(config, tokens.access_token, user.id)
    expect(info).toMatchObject({
      sub: user.id,
      preferred_username: user.username,
      email: 'person@example.test',
      email_verified: false,
      roles: ['user'],
    })
    expect(info.phone_number).toBeUndefined()
  })
})
