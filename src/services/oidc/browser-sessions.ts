import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Db } from '../../store/db.js'
import {
  gatehouseSessionsOf,
  linkOidcSession,
  oidcSessionLinked,
} from '../../store/repositories/oidc-payloads.js'
import { findSession } from '../../store/repositories/sessions.js'
import type { RequestContext } from '../audit/audit-log.js'
import { GatehouseError } from '../errors.js'
import type { Clock } from '../ports.js'
import type { SessionService } from '../sessions/session-service.js'
import type { OidcClients } from './clients.js'
import { acrOf, SESSION_COOKIE } from './configuration.js'
import type { OidcProvider } from './provider.js'

export interface BrowserSessionConfig {
  /** The provider's session lifetime (its `ttl.Session`). */
  sessionTtlSec: number
  /** SESSION_MAX_AGE: no sign-on outlives the Gatehouse session it came from. */
  sessionMaxAgeSec: number
  /** PUBLIC_URL is https: the cookie never travels over plain http. */
  secure: boolean
}

export type OidcBrowserSessions = ReturnType<typeof createOidcBrowserSessions>

/**
 * Single sign-on from Gatehouse's own web UI (SPEC §4.12: "prompt=none works when a Gatehouse
 * session exists"). An application's silent sign-in reaches the provider as a cross-site
 * navigation, which carries none of the web UI's cookies (SameSite=Strict, Path=/api/auth) —
 * only the provider's own Lax session cookie. So when the web UI receives tokens, the same
 * browser gets a provider session for the same person, linked to the Gatehouse session so it
 * ends with it (logout, revocation, password reset, lock) — and the other way round: signing
 * out at an application's request ends the Gatehouse session too, or the web UI's next
 * refresh would sign the browser straight back in to every application.
 */
export function createOidcBrowserSessions(deps: {
  db: Db
  clock: Clock
  oidc: OidcProvider
  clients: Pick<OidcClients, 'any'>
  sessions: Pick<SessionService, 'endOne'>
  cfg: BrowserSessionConfig
}) {
  const { db, clock, oidc, clients, sessions, cfg } = deps

  return {
    /**
     * Makes the browser's provider session that of `gatehouseSessionId`, unless it already is
     * (the same person, signed in no earlier, linked to this session), and returns the
     * Set-Cookie lines for the response (none when nothing changed).
     */
    async open(
      req: IncomingMessage,
      res: ServerResponse,
      gatehouseSessionId: string,
    ): Promise<string[]> {
      const signedIn = await findSession(db, gatehouseSessionId)
      if (!signedIn || signedIn.ended_at !== null) return []
      const nowMs = clock.now().getTime()
      const ttlSec = Math.min(
        cfg.sessionTtlSec,
        Math.floor((signedIn.created_at + cfg.sessionMaxAgeSec * 1000 - nowMs) / 1000),
      )
      // With no application registered there is nothing to sign on to, and the provider's
      // code is not loaded for it (issue 15: load OIDC only when used). A cookie refresh
      // opens it once the first application is there.
      if (ttlSec <= 0 || !(await clients.any())) return []

      const provider = await oidc.provider()
      const cookies = provider.createContext(req, res).cookies
      cookies.secure = cfg.secure
      const cookieName = provider.cookieName('session')
      const cookieId = cookies.get(cookieName, SESSION_COOKIE)
      const current = cookieId ? await provider.Session.find(cookieId) : undefined
      const loginTs = Math.floor(signedIn.created_at / 1000)
      if (
        current?.accountId === signedIn.user_id &&
        (current.loginTs ?? 0) >= loginTs &&
        (await oidcSessionLinked(db, current.uid, gatehouseSessionId))
      )
        return []

      // Another person's provider session is not ended here: it ends with their Gatehouse
      // session, and an interaction waiting on it must still load to be handed over
      // (interactions.ts). This browser's cookie names the new one from now on.
      const session = current?.accountId === signedIn.user_id ? current : new provider.Session()
      const amr = JSON.parse(signedIn.amr) as string[]
      session.loginAccount({ accountId: signedIn.user_id, loginTs, amr, acr: acrOf(amr) })
      const id = await session.save(ttlSec)
      await linkOidcSession(db, session.uid, gatehouseSessionId, nowMs)

      cookies.set(cookieName, id, {
        ...SESSION_COOKIE,
        expires: new Date(nowMs + ttlSec * 1000),
      })
      // The cookies library wrote on the raw response; Fastify sends its own headers, so the
      // lines go back to the route to set through the reply.
      const lines = res.getHeader('set-cookie')
      res.removeHeader('set-cookie')
      return Array.isArray(lines) ? lines : typeof lines === 'string' ? [lines] : []
    },

    /** Ends the Gatehouse sessions of a provider session its person signed out of. */
    async signedOut(sessionUid: string, accountId: string, context: RequestContext): Promise<void> {
      for (const id of await gatehouseSessionsOf(db, sessionUid)) {
        await sessions.endOne(accountId, id, 'oidc_logout', context).catch((err: unknown) => {
          // Already ended (or another person's, which a link never names): nothing to do.
          if (!(err instanceof GatehouseError && err.code === 'not_found')) throw err
        })
      }
    },
  }
}
