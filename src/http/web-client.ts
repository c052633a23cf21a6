import cookie from '@fastify/cookie'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Services } from '../container.js'
import { loggable } from '../services/ports.js'

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
  /**
   * Opens the browser's single sign-on session for OpenID applications (SPEC §4.12) and gives
   * back the cookies that carry it.
   */
  signOn?: (request: FastifyRequest, reply: FastifyReply, sessionId: string) => Promise<string[]>
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
     * as the cookie and never in the body, and the browser is signed on for OpenID
     * applications with the same session. Login, login/verify, refresh and passkey/verify all
     * answer through here (their `no-store` comes from the routes' noStore hook).
     * `sessionId` is the session the tokens belong to (none for a login that needs its
     * second step).
     */
    async tokenReply<T extends object>(
      request: FastifyRequest,
      reply: FastifyReply,
      json: T,
      sessionId: string | undefined,
    ): Promise<T> {
      if (!isWebClient(request) || !('refresh_token' in json)) return json
      const { refresh_token: token, ...rest } = json
      if (typeof token !== 'string') return json
      reply.setCookie(REFRESH_COOKIE, token, { ...attributes, maxAge: opts.maxAgeSec })
      if (sessionId !== undefined && opts.signOn) {
        try {
          for (const line of await opts.signOn(request, reply, sessionId))
            reply.header('set-cookie', line)
        } catch (err) {
          // The sign-in itself succeeded; applications will ask the person to sign in again.
          request.log.warn({ err: loggable(err) }, 'could not open the single sign-on session')
        }
      }
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
  services: Pick<Services, 'config' | 'oidcBrowserSessions'>,
): Promise<WebClientCookies> {
  await app.register(cookie, { hook: false })
  const { config, oidcBrowserSessions } = services
  return webClientCookies(app, {
    maxAgeSec: config.tokens.refreshTtlSec,
    secure: config.http.publicUrl.startsWith('https:'),
    signOn: (request, reply, sessionId) =>
      oidcBrowserSessions.open(request.raw, reply.raw, sessionId),
  })
}
