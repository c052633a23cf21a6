import type { IncomingMessage, ServerResponse } from 'node:http'
import type {
  Account,
  AdapterPayload,
  Configuration,
  Grant,
  KoaContextWithOIDC,
  default as ProviderInstance,
  ResponseType,
} from 'oidc-provider'
import type { Db } from '../../store/db.js'
import { findOidcConsent } from '../../store/repositories/oidc-consents.js'
import { linkOidcSession } from '../../store/repositories/oidc-payloads.js'
import { rolesOfUser } from '../../store/repositories/roles.js'
import { findUserById } from '../../store/repositories/users.js'
import type { AuditLog } from '../audit/audit-log.js'
import type { Clock } from '../ports.js'
import type { KeyRing } from '../tokens/key-ring.js'
import { createOidcAdapter } from './adapter.js'
import { oidcLibrary, type OidcLibrary } from './library.js'
import { hashClientSecret, OIDC_SCOPES, type OidcClients } from './clients.js'
import { errorPage, loggedOutPage, logoutPage } from './pages.js'
import { constantTimeEqual } from './secrets.js'

/** Where the provider is mounted; its endpoints are PUBLIC_URL + this + the provider's paths. */
export const OIDC_MOUNT = '/oidc'
/** The web UI route that runs login and consent (SPEC §4.12). */
export const INTERACTION_PATH = '/oidc-interaction'

export interface OidcProviderConfig {
  issuer: string
  accessTtlSec: number
  refreshTtlSec: number
  /** Keys that sign the provider's cookies, newest first. */
  cookieKeys: string[]
}

/** The provider's session cookie: sent on an application's cross-site redirect (Lax), never to scripts. */
export const SESSION_COOKIE = { signed: true, httpOnly: true, sameSite: 'lax' } as const

/** The only response type offered: the code flow with PKCE (SPEC §4.12). */
const RESPONSE_TYPES: ResponseType[] = ['code']

/**
 * The response mode a response type implies when the request names none (OAuth 2.0 Multiple
 * Response Type Encoding Practices §2.1 and §5): fragment for any type that returns a token or
 * an ID token, the query otherwise. oidc-provider applies the same rule
 * (lib/helpers/resolve_response_mode.js), which is not part of its public API.
 */
const impliedResponseMode = (responseType: string) =>
  responseType.includes('token') ? 'fragment' : 'query'

/** The ACR a login reached: Gatehouse's amr says whether a second factor was used. */
export const acrOf = (amr: readonly string[]) => (amr.includes('mfa') ? 'mfa' : 'pwd')

/** Whether this authorization request, or its client, asks for a second factor. */
export function wantsMfa(params: { acr_values?: unknown }, clientMetadata: object): boolean {
  if ((clientMetadata as { require_mfa?: unknown }).require_mfa === true) return true
  const acrValues = typeof params.acr_values === 'string' ? params.acr_values.split(' ') : []
  // acr_values is a preference list (OIDC Core §3.1.2.1); only "mfa" alone demands it.
  return acrValues.includes('mfa') && !acrValues.includes('pwd')
}

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
  onBackgroundError: (err: unknown) => void
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
    onBackgroundError: deps.onBackgroundError,
  })
  let current:
    | {
        version: string
        provider: ProviderInstance
        callback: ReturnType<ProviderInstance['callback']>
      }
    | undefined
  let building: Promise<ProviderInstance> | undefined

  async function findAccount(_ctx: KoaContextWithOIDC, sub: string): Promise<Account | undefined> {
    const user = await findUserById(db, sub)
    // A locked, disabled or deleted person gets no tokens and no claims (SPEC §4.6).
    if (!user || user.disabled_at !== null || user.locked_at !== null) return undefined
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          preferred_username: user.username,
          ...(user.email === null
            ? {}
            : { email: user.email, email_verified: user.email_verified_at !== null }),
          ...(user.phone === null
            ? {}
            : { phone_number: user.phone, phone_number_verified: user.phone_verified_at !== null }),
          roles: await rolesOfUser(db, sub),
        }
      },
    }
  }

  /**
   * A consent outlives the provider's grant (which ends with a logout or a detected reuse):
   * when the session has no grant for this client yet, one is rebuilt from the remembered
   * consent, so the person is not asked again for what they already allowed.
   */
  async function loadExistingGrant(ctx: KoaContextWithOIDC): Promise<Grant | undefined> {
    const { provider, client, session, result } = ctx.oidc
    if (!client) return undefined
    const consentGrantId = (result?.consent as { grantId?: string } | undefined)?.grantId
    const grantId = consentGrantId ?? session?.grantIdFor(client.clientId)
    if (grantId) {
      const grant = await provider.Grant.find(grantId)
      if (grant) return grant
    }
    const accountId = session?.accountId
    if (!accountId) return undefined
    const consent = await findOidcConsent(db, accountId, client.clientId)
    if (!consent) return undefined
    const grant = new provider.Grant({ accountId, clientId: client.clientId })
    grant.addOIDCScope(consent.scopes)
    for (const [resource, scope] of Object.entries(
      JSON.parse(consent.resources) as Record<string, string>,
    ))
      grant.addResourceScope(resource, scope)
    await grant.save()
    return grant
  }

  function policy({ interactionPolicy }: OidcLibrary) {
    const prompts = interactionPolicy.base()
    const login = prompts.get('login')
    if (!login) throw new Error('oidc-provider has no login prompt')
    // acr_values=mfa or a client registered with require_mfa: a password-only session is not
    // enough; with prompt=none this answers login_required (OIDC Core §3.1.2.6).
    login.checks.add(
      new interactionPolicy.Check(
        'mfa_required',
        'a second factor is required',
        (ctx) => {
          const { client, params, session } = ctx.oidc
          if (!client || !wantsMfa(params ?? {}, client.metadata())) {
            return interactionPolicy.Check.NO_NEED_TO_PROMPT
          }
          return session?.acr === 'mfa'
            ? interactionPolicy.Check.NO_NEED_TO_PROMPT
            : interactionPolicy.Check.REQUEST_PROMPT
        },
        () => ({ acr: 'mfa' }),
      ),
    )
    return prompts
  }

  function configuration(lib: OidcLibrary, keys: AdapterPayload[]): Configuration {
    const { errors } = lib
    return {
      adapter: Adapter,
      jwks: { keys } as Configuration['jwks'],
      findAccount,
      loadExistingGrant,
      scopes: OIDC_SCOPES,
      claims: {
        acr: null,
        amr: null,
        auth_time: null,
        sid: null,
        iss: null,
        // What was proven, in every ID token (SPEC §4.12), not only when a client asks.
        openid: ['sub', 'acr', 'amr', 'auth_time'],
        profile: ['preferred_username'],
        email: ['email', 'email_verified'],
        phone: ['phone_number', 'phone_number_verified'],
        roles: ['roles'],
      },
      acrValues: ['pwd', 'mfa'],
      responseTypes: RESPONSE_TYPES,
      clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
      // OAuth 2.1 / RFC 9700: every client, confidential ones too, proves its code with PKCE.
      pkce: { required: () => true },
      allowOmittingSingleRegisteredRedirectUri: false,
      // Browser apps may call the token endpoint from the origins they redirect to, no others.
      clientBasedCORS: (_ctx, origin, client) =>
        client.redirectUris?.some((uri) => new URL(uri).origin === origin) ?? false,
      extraClientMetadata: {
        properties: ['require_mfa', 'resources', 'api_scopes'],
        validator(_ctx, key, value) {
          if (key === 'require_mfa' && value !== undefined && typeof value !== 'boolean')
            throw new errors.InvalidClientMetadata('require_mfa must be a boolean')
          if (
            (key === 'resources' || key === 'api_scopes') &&
            value !== undefined &&
            (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))
          )
            throw new errors.InvalidClientMetadata('resources must be an array of URLs')
        },
      },
      clientDefaults: {
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        id_token_signed_response_alg: 'RS256',
        token_endpoint_auth_method: 'client_secret_basic',
      },
      enabledJWA: {
        idTokenSigningAlgValues: ['RS256', 'EdDSA'],
        userinfoSigningAlgValues: ['RS256', 'EdDSA'],
        requestObjectSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      },
      rotateRefreshToken: true,
      ttl: {
        AccessToken: cfg.accessTtlSec,
        AuthorizationCode: 60,
        // As short as Gatehouse's access tokens, so the key ring keeps a retired key published
        // exactly as long as anything it signed may still be checked.
        IdToken: cfg.accessTtlSec,
        Interaction: 600,
        Session: cfg.refreshTtlSec,
        Grant: cfg.refreshTtlSec,
        RefreshToken: cfg.refreshTtlSec,
      },
      cookies: {
        keys: cfg.cookieKeys,
        long: SESSION_COOKIE,
        // The interaction cookie is read by the interaction API (/api/oidc/interaction/…),
        // which is not under the UI route the provider would otherwise scope it to.
        short: { signed: true, httpOnly: true, sameSite: 'lax', path: '/' },
      },
      interactions: {
        policy: policy(lib),
        url: (_ctx, interaction) => `${INTERACTION_PATH}/${interaction.uid}`,
      },
      features: {
        devInteractions: { enabled: false },
        revocation: { enabled: true },
        userinfo: { enabled: true },
        introspection: { enabled: false },
        registration: { enabled: false },
        claimsParameter: { enabled: false },
        rpInitiatedLogout: {
          enabled: true,
          logoutSource(ctx, form) {
            ctx.type = 'html'
            ctx.body = logoutPage(form, ctx.oidc.client?.clientName)
          },
          postLogoutSuccessSource(ctx) {
            ctx.type = 'html'
            ctx.body = loggedOutPage(ctx.oidc.client?.clientName)
          },
        },
        resourceIndicators: {
          enabled: true,
          defaultResource: (_ctx, _client, oneOf) => oneOf,
          useGrantedResource: () => false,
          getResourceServerInfo(_ctx, resource, client) {
            const registered = (client.metadata().resources as string[] | undefined) ?? []
            if (!registered.includes(resource)) {
              throw new errors.InvalidTarget('the client is not registered for this resource')
            }
            const apiScopes = (client.metadata().api_scopes as string[] | undefined) ?? []
            return {
              scope: apiScopes.join(' '),
              audience: resource,
              accessTokenTTL: cfg.accessTtlSec,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg: 'RS256' } },
            }
          },
        },
      },
      renderError(ctx, out) {
        ctx.type = 'html'
        ctx.body = errorPage(out.error, out.error_description)
      },
    }
  }

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
    const provider = new lib.default(cfg.issuer, configuration(lib, keys))
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
          constantTimeEqual(this.clientSecret, hashClientSecret(actual)),
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

    provider.on('server_error', (_ctx: unknown, err: unknown) => deps.onBackgroundError(err))
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
