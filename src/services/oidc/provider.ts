import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AdapterPayload, KoaContextWithOIDC, default as ProviderInstance } from 'oidc-provider'
import type { Db } from '../../store/db.js'
import { linkOidcSession } from '../../store/repositories/oidc-payloads.js'
import type { AuditLog } from '../audit/audit-log.js'
import { loggable, type WarningLog, type Clock } from '../ports.js'
import type { KeyRing } from '../tokens/key-ring.js'
import { createOidcAdapter } from './adapter.js'
import { hashClientSecret, type OidcClients } from './clients.js'
import { providerConfiguration, RESPONSE_TYPES, type OidcProviderConfig } from './configuration.js'
import { oidcLibrary, type OidcLibrary } from './library.js'
import { equalText } from '../../crypto/compare.js'

/** Where the provider is mounted; its endpoints are PUBLIC_URL + this + the provider's paths. */
export const OIDC_MOUNT = '/oidc'

/**
 * The response mode a response type implies when the request names none (OAuth 2.0 Multiple
 * Response Type Encoding Practices §2.1 and §5): fragment for any type that returns a token or
 * an ID token, the query otherwise. oidc-provider applies the same rule
 * (lib/helpers/resolve_response_mode.js), which is not part of its public API.
 */
const impliedResponseMode = (responseType: string) =>
  responseType.includes('token') ? 'fragment' : 'query'

export type OidcProvider = ReturnType<typeof createOidcProvider>

/**
 * panva's oidc-provider on Gatehouse's storage, keys and accounts. The provider takes its keys
 * at construction, so it is rebuilt whenever the key ring's published set changes (`keys
 * rotate` on any instance is seen here within the ring's reload interval).
 */
export function createOidcProvider(deps: {
  db: Db
  clock: Clock
  keyRing: KeyRing
  clients: OidcClients
  audit: AuditLog
  cfg: OidcProviderConfig
  log: WarningLog
  /**
   * A person signed out at an application's request (RP-initiated logout, "Sign out"): the
   * Gatehouse sessions their provider session came from end too.
   */
  onSignedOut: (
    sessionUid: string,
    accountId: string,
    context: { ip: string; userAgent: string | null },
  ) => Promise<void>
}) {
  const { db, clock, keyRing, clients, audit, cfg } = deps
  const Adapter = createOidcAdapter({
    db,
    clock,
    clients,
    log: deps.log,
  })
  let current:
    | {
        version: string
        provider: ProviderInstance
        callback: ReturnType<ProviderInstance['callback']>
      }
    | undefined
  let building: Promise<ProviderInstance> | undefined

  const contextOf = (ctx: KoaContextWithOIDC) => ({
    ip: ctx.ip,
    userAgent: ctx.get('user-agent') || null,
  })

  /** Audits what a provider request achieved, before its response leaves (SPEC §4.12). */
  async function auditOutcome(ctx: KoaContextWithOIDC): Promise<void> {
    const { route, entities, client, session, params } = ctx.oidc
    if ((route === 'authorization' || route === 'resume') && entities.AuthorizationCode) {
      const code = entities.AuthorizationCode
      await audit.record({
        event: 'oidc_authorized',
        outcome: 'success',
        userId: session?.accountId ?? code.accountId ?? null,
        details: {
          client_id: client?.clientId ?? null,
          scopes: (code.scope ?? (typeof params?.scope === 'string' ? params.scope : ''))
            .split(' ')
            .filter(Boolean),
        },
        context: contextOf(ctx),
      })
    }
    if (route === 'revocation' && ctx.status === 200) {
      const token = entities.RefreshToken ?? entities.AccessToken
      if (!token) return // unknown tokens are "revoked" too (RFC 7009 §2.2): nothing happened
      // Another client's token: a public client is answered 200 too, and nothing happened
      // (the revocation policy in configuration.ts).
      if (token.clientId !== client?.clientId) return
      await audit.record({
        event: 'oidc_token_revoked',
        outcome: 'success',
        userId: token.accountId ?? null,
        details: { client_id: client?.clientId ?? null, kind: token.kind },
        context: contextOf(ctx),
      })
    }
  }

  function build(lib: OidcLibrary, keys: AdapterPayload[]): ProviderInstance {
    const provider = new lib.default(
      cfg.issuer,
      providerConfiguration({ db, adapter: Adapter, cfg }, lib, keys),
    )
    // Every URL the provider builds comes from PUBLIC_URL (set as forwarded headers by the
    // mount), never from a Host header a client chose.
    provider.proxy = true

    // Hashed client secrets: the supported way is to replace the Client prototype's
    // comparison (panva/node-oidc-provider#631); the stored "secret" is the SHA-256 hash.
    provider.Client.prototype.compareClientSecret = function compare(
      this: { clientSecret?: string },
      actual: string,
    ) {
      return Promise.resolve(
        typeof this.clientSecret === 'string' &&
          equalText(this.clientSecret, hashClientSecret(actual)),
      )
    }

    // RFC 6749 §4.1.2.1 / OIDC Core §3.1.2.6: a response type the provider does not offer is
    // `unsupported_response_type`, which the library's own type check answers (at the client's
    // redirect URI, with the state). But the library checks the response mode first, and every
    // client is registered for query alone (clients.ts), so `token`, `id_token` and the hybrid
    // types failed on the fragment they imply, as `invalid_request`. The mode a type implies is
    // therefore let through for a type not offered (only that error is ever sent in it); a mode
    // a request names is still held to the client's list, so a code only goes in the query.
    // eslint-disable-next-line @typescript-eslint/unbound-method -- called on the client below
    const responseModeAllowed = provider.Client.prototype.responseModeAllowed
    provider.Client.prototype.responseModeAllowed = function allowed(mode, responseType, fapi) {
      if (
        typeof responseType === 'string' &&
        !RESPONSE_TYPES.includes(responseType) &&
        mode === impliedResponseMode(responseType)
      )
        return true
      return responseModeAllowed.call(this, mode, responseType, fapi)
    }

    provider.use(async (ctx, next) => {
      await next()
      const oidc = (ctx as KoaContextWithOIDC).oidc as KoaContextWithOIDC['oidc'] | undefined
      if (!oidc) return
      if (oidc.route === 'discovery' && ctx.body && typeof ctx.body === 'object') {
        // One JWKS for everything Gatehouse signs (SPEC §4.3).
        ;(ctx.body as Record<string, unknown>).jwks_uri = `${cfg.issuer}/.well-known/jwks.json`
        // Every client is registered for query alone (clients.ts); the library's document
        // lists the modes it could serve, so it would advertise fragment and form_post too.
        ;(ctx.body as Record<string, unknown>).response_modes_supported = ['query']
      }
      if (oidc.route === 'resume') {
        // Tie the provider session to the Gatehouse session the person signed in with, so
        // ending that session ends this one (SPEC §4.12).
        const sessionId = (oidc.result?.gatehouse as { sessionId?: unknown } | undefined)?.sessionId
        const uid = oidc.session?.uid
        if (typeof sessionId === 'string' && uid && oidc.session?.accountId)
          await linkOidcSession(db, uid, sessionId, clock.now().getTime())
      }
      // The library marks the session `destroyed` (not in its types) when the person chose
      // "Sign out", not "Stay signed in".
      const session = oidc.session
      const destroyed = (session as { destroyed?: boolean } | undefined)?.destroyed === true
      if (oidc.route === 'end_session_confirm' && destroyed && session?.accountId)
        await deps.onSignedOut(session.uid, session.accountId, contextOf(ctx as KoaContextWithOIDC))
      await auditOutcome(ctx as KoaContextWithOIDC)
    })

    provider.on('server_error', (_ctx: unknown, err: unknown) =>
      deps.log.warn({ err: loggable(err) }, 'OpenID provider error'),
    )
    return provider
  }

  /** The provider for the key ring's current keys, built again after a rotation. */
  async function provider(): Promise<ProviderInstance> {
    const { version, keys } = await keyRing.privateJwks()
    if (current?.version === version) return current.provider
    building ??= (async () => {
      try {
        const built = build(await oidcLibrary(), keys)
        current = { version, provider: built, callback: built.callback() }
        return built
      } finally {
        building = undefined
      }
    })()
    return building
  }

  const publicUrl = new URL(cfg.issuer)
  const forwardedProto = publicUrl.protocol.replace(':', '')

  return {
    provider,

    /**
     * Hands a raw request to the provider. `path` is what follows the mount (`/auth?…`);
     * the request's own URL keeps the mount, which is how the provider learns where it lives.
     * `method` replaces the request's own for the provider (an authorization POST is handed
     * over as its GET, see routes/oidc.ts).
     */
    async handle(
      req: IncomingMessage,
      res: ServerResponse,
      path: string,
      clientIp: string,
      method?: 'GET',
    ): Promise<void> {
      await provider()
      if (!current) throw new Error('the OpenID provider is not built')
      const { callback } = current
      const original = req.url ?? '/'
      const originalMethod = req.method
      ;(req as IncomingMessage & { originalUrl?: string }).originalUrl = `${OIDC_MOUNT}${path}`
      req.url = path
      if (method) req.method = method
      req.headers['x-forwarded-proto'] = forwardedProto
      req.headers['x-forwarded-host'] = publicUrl.host
      // The address Fastify worked out under TRUST_PROXY, not whatever the client claimed.
      req.headers['x-forwarded-for'] = clientIp
      try {
        await callback(req, res)
      } finally {
        req.url = original
        req.method = originalMethod
      }
    },
  }
}
