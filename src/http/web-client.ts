import cookie from '@fastify/cookie'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

/**
 * Cookie mode of SPEC §7. The web UI keeps its access token in memory and its refresh token in
 * an HttpOnly cookie the page's scripts cannot read, so an XSS cannot carry the session away.
 * A request opts in with `X-Gatehouse-Client: web`: a browser only sends a custom header
 * cross-site after a CORS preflight that CORS_ORIGINS refuses, so the header plus
 * SameSite=Strict is the CSRF defence — and the cookie is never read without it.
 */
export const REFRESH_COOKIE = 'gatehouse_refresh'
const COOKIE_PATH = '/api/auth'

export function isWebClient(request: FastifyRequest): boolean {
  return request.headers['x-gatehouse-client'] === 'web'
}

export interface RefreshCookieOptions {
  /** REFRESH_TOKEN_TTL: the cookie lives as long as the token it carries. */
  maxAgeSec: number
  /** PUBLIC_URL is https: the cookie never travels over plain http. */
  secure: boolean
}

export interface CookieJar {
  parseCookie(header: string): Record<string, string | undefined>
}

export function webClientCookies(jar: CookieJar, opts: RefreshCookieOptions) {
  const attributes = {
    httpOnly: true,
    sameSite: 'strict' as const,
    path: COOKIE_PATH,
    secure: opts.secure,
  }
  return {
    /** The refresh token from the cookie; undefined unless the request opted in with the header. */
    readRefreshToken(request: FastifyRequest): string | undefined {
      if (!isWebClient(request)) return undefined
      const header = request.headers.cookie
      if (typeof header !== 'string') return undefined
      const token = jar.parseCookie(header)[REFRESH_COOKIE]
      return token === '' ? undefined : token
    },

    /**
     * Shapes a token response for the client that asked: a web client gets the refresh token
     * as the cookie and never in the body. Login, login/verify, refresh and passkey/verify all
     * answer through here (their `no-store` comes from the routes' noStore hook).
     */
    tokenReply<T extends object>(request: FastifyRequest, reply: FastifyReply, json: T): T {
      if (!isWebClient(request) || !('refresh_token' in json)) return json
      const { refresh_token: token, ...rest } = json
      if (typeof token !== 'string') return json
      reply.setCookie(REFRESH_COOKIE, token, { ...attributes, maxAge: opts.maxAgeSec })
      return rest as T
    },

    clearRefreshToken(reply: FastifyReply): void {
      reply.clearCookie(REFRESH_COOKIE, attributes)
    },
  }
}

export type WebClientCookies = ReturnType<typeof webClientCookies>

/**
 * Registers the cookie parser in a route context (parsed only on demand: the refresh cookie is
 * read solely for requests that opted in) and returns the cookie-mode helpers for it.
 */
export async function installWebClientCookies(
  app: FastifyInstance,
  opts: RefreshCookieOptions,
): Promise<WebClientCookies> {
  await app.register(cookie, { hook: false })
  return webClientCookies(app, opts)
}
