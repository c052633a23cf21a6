import { afterAll, beforeAll, expect } from 'vitest'
import type { AddressInfo } from 'node:net'
import * as oidcClient from 'openid-client'
import { fakeClock } from './clock.js'
import type { TestDatabase } from './databases.js'
import { startApp, useFreshDatabase, type TestApp } from './harness.js'
import { STRONG_PASSWORD } from './http.js'

/**
 * Gatehouse on a real port for relying parties. Its PUBLIC_URL (the issuer) is a name no
 * resolver knows; every request the tests and openid-client make to it is sent to the port,
 * so the issuer stays fixed while the port is whatever the system gave.
 */
export const ISSUER = 'http://gatehouse.test'

export interface OidcServer {
  t: TestApp
  /** The database it runs on, for the CLI. */
  databaseUrl: string
  /** fetch that reaches PUBLIC_URL on the real port; never follows redirects. */
  fetch: typeof fetch
  /** openid-client options that route its requests the same way. */
  clientOptions: oidcClient.DiscoveryRequestOptions
}

/**
 * Makes people to authorize applications: each call creates a user (named `<prefix>-<n>`)
 * and signs them in to Gatehouse, returning their id, name and access token.
 */
export function userMaker(srv: { readonly server: OidcServer }, prefix: string) {
  let n = 0
  return async (email?: string) => {
    const username = `${prefix}-${++n}`
    const id = await srv.server.t.services.accounts.create({
      username,
      password: STRONG_PASSWORD,
      roles: ['user'],
      ...(email ? { email } : {}),
    })
    return { id, username, token: await gatehouseLogin(srv.server, username) }
  }
}

export function useOidcServer(
  database: TestDatabase,
  env: Record<string, string> = {},
): { readonly server: OidcServer } {
  const db = useFreshDatabase(database)
  let started: OidcServer | undefined
  beforeAll(async () => {
    started = await serveOidc(db.url, env)
  })
  afterAll(async () => {
    await started?.t.close()
  })
  return {
    get server() {
      if (!started) throw new Error('the server starts in beforeAll')
      return started
    },
  }
}

/** Starts one Gatehouse on a real port as the issuer; several on one database act as one. */
export async function serveOidc(
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<OidcServer> {
  // The provider reads the real time (token iat/exp, auth_time): start the fake clock there.
  const t = await startApp(databaseUrl, {
    env: { PUBLIC_URL: ISSUER, ...env },
    clock: fakeClock(new Date()),
  })
  await t.app.listen({ port: 0, host: '127.0.0.1' })
  const origin = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`
  const routed: typeof fetch = (input, init) => {
    const url = input instanceof Request ? input.url : input.toString()
    const target = url.startsWith(ISSUER) ? origin + url.slice(ISSUER.length) : url
    if (input instanceof Request) return fetch(new Request(target, input), { redirect: 'manual' })
    return fetch(target, { ...init, redirect: 'manual' })
  }
  return {
    t,
    databaseUrl,
    fetch: routed,
    clientOptions: {
      execute: [oidcClient.allowInsecureRequests],
      [oidcClient.customFetch]: (url, options) => routed(url, options),
    },
  }
}

/** A browser's cookie jar over the routed fetch: enough for the provider's cookies. */
export function browser(server: OidcServer) {
  const jar = new Map<string, string>()
  async function go(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers)
    if (jar.size > 0) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '))
    const absolute = url.startsWith('/') ? ISSUER + url : url
    const res = await server.fetch(absolute, { ...init, headers })
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';')
      const eq = pair!.indexOf('=')
      const name = pair!.slice(0, eq).trim()
      const value = pair!.slice(eq + 1).trim()
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') jar.delete(name)
      else jar.set(name, value)
    }
    return res
  }
  return { go, jar }
}

export type Browser = ReturnType<typeof browser>

/** Signs in through the ordinary API (every throttle applies) and returns the access token. */
export async function gatehouseLogin(
  server: OidcServer,
  username: string,
  password = STRONG_PASSWORD,
): Promise<string> {
  const res = await server.fetch(`${ISSUER}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  })
  const body = (await res.json()) as { access_token?: string }
  if (res.status !== 200 || !body.access_token)
    throw new Error(`login failed: ${res.status} ${JSON.stringify(body)}`)
  return body.access_token
}

export function location(res: Response): string {
  const to = res.headers.get('location')
  if (!to) throw new Error(`expected a redirect, got ${res.status}: no location`)
  return to
}

// RFC 9700 §2.1: a redirect URI is https unless it is this machine's (clients.ts).
export const APP = 'https://app.test'
export const CALLBACK = `${APP}/callback`
export const API = 'https://api.app.test'

export interface Registered {
  client_id: string
  client_secret?: string
}

export async function registerClient(
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

export async function configFor(
  server: OidcServer,
  c: Registered,
  metadata?: Partial<oidcClient.ClientMetadata>,
): Promise<oidcClient.Configuration> {
  return oidcClient.discovery(
    new URL(ISSUER),
    c.client_id,
    metadata,
    c.client_secret ? oidcClient.ClientSecretBasic(c.client_secret) : oidcClient.None(),
    server.clientOptions,
  )
}

export interface Started {
  url: URL
  verifier: string
  state: string
  nonce: string
}

export async function authorizationUrl(
  config: oidcClient.Configuration,
  extra: Record<string, string | undefined> = {},
): Promise<Started> {
  const verifier = oidcClient.randomPKCECodeVerifier()
  const state = oidcClient.randomState()
  const nonce = oidcClient.randomNonce()
  const params: Record<string, string | undefined> = {
    redirect_uri: CALLBACK,
    // offline_access needs prompt=consent (OIDC Core §11)
    scope: 'openid profile email roles offline_access',
    code_challenge: await oidcClient.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    prompt: 'consent',
    ...extra,
  }
  const url = oidcClient.buildAuthorizationUrl(
    config,
    Object.fromEntries(
      Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined),
    ),
  )
  return { url, verifier, state, nonce }
}

/** Redeems the code a callback carries, checking the state and nonce its request was sent with. */
export function redeem(
  config: oidcClient.Configuration,
  callback: URL,
  started: Pick<Started, 'verifier' | 'state' | 'nonce'>,
) {
  return oidcClient.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: started.verifier,
    expectedState: started.state,
    expectedNonce: started.nonce,
  })
}

/** Drives login and consent through the interaction API, as the web UI does; returns the callback URL. */
export async function signIn(
  b: Browser,
  start: URL,
  token: string,
  opts: { allow?: boolean; method?: 'GET' | 'POST' } = {},
): Promise<URL> {
  // OIDC Core §3.1.2.1: the same request as a form post to the authorization endpoint.
  let res =
    opts.method === 'POST'
      ? await b.go(`${start.origin}${start.pathname}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: start.searchParams.toString(),
        })
      : await b.go(start.toString())
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

/** The OAuth error code a failed openid-client call carries. */
export async function oauthError(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err) {
    const e = err as { error?: string; cause?: { parameters?: { error?: string } }[] }
    return e.error ?? e.cause?.[0]?.parameters?.error ?? String(err)
  }
  throw new Error('expected an OAuth error')
}
