import { afterAll, beforeAll } from 'vitest'
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
  /** fetch that reaches PUBLIC_URL on the real port; never follows redirects. */
  fetch: typeof fetch
  /** openid-client options that route its requests the same way. */
  clientOptions: oidcClient.DiscoveryRequestOptions
}

/** One Gatehouse on a real port whose PUBLIC_URL is ISSUER (several may share a database). */
export async function startOidcServer(
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
    fetch: routed,
    clientOptions: {
      execute: [oidcClient.allowInsecureRequests],
      [oidcClient.customFetch]: (url, options) => routed(url, options),
    },
  }
}

export function useOidcServer(
  database: TestDatabase,
  env: Record<string, string> = {},
): { readonly server: OidcServer } {
  const db = useFreshDatabase(database)
  let started: OidcServer | undefined
  beforeAll(async () => {
    started = await startOidcServer(db.url, env)
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
