import type {
  Account,
  AdapterPayload,
  Configuration,
  Grant,
  KoaContextWithOIDC,
  ResponseType,
} from 'oidc-provider'
import type { Db } from '../../store/db.js'
import { findOidcConsent } from '../../store/repositories/oidc-consents.js'
import { rolesOfUser } from '../../store/repositories/roles.js'
import { findUserById } from '../../store/repositories/users.js'
import { OIDC_SCOPES } from './clients.js'
import type { OidcLibrary } from './library.js'
import { errorPage, loggedOutPage, logoutPage } from './pages.js'

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
export const RESPONSE_TYPES: ResponseType[] = ['code']

/** The ACR a login reached: Gatehouse's amr says whether a second factor was used. */
export const acrOf = (amr: readonly string[]) => (amr.includes('mfa') ? 'mfa' : 'pwd')

/** Whether this authorization request, or its client, asks for a second factor. */
export function wantsMfa(params: { acr_values?: unknown }, clientMetadata: object): boolean {
  if ((clientMetadata as { require_mfa?: unknown }).require_mfa === true) return true
  const acrValues = typeof params.acr_values === 'string' ? params.acr_values.split(' ') : []
  // acr_values is a preference list (OIDC Core §3.1.2.1); only "mfa" alone demands it.
  return acrValues.includes('mfa') && !acrValues.includes('pwd')
}

/**
 * What the provider is told (SPEC §4.12): Gatehouse's accounts and remembered consents, the
 * interaction policy, scopes and claims, lifetimes, cookies and pages. The provider's
 * construction and request handling are in provider.ts.
 */
export function providerConfiguration(
  deps: { db: Db; adapter: NonNullable<Configuration['adapter']>; cfg: OidcProviderConfig },
  lib: OidcLibrary,
  keys: AdapterPayload[],
): Configuration {
  const { db, cfg } = deps
  const { errors } = lib

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

  function policy() {
    const { interactionPolicy } = lib
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

  return {
    adapter: deps.adapter,
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
      policy: policy(),
      url: (_ctx, interaction) => `${INTERACTION_PATH}/${interaction.uid}`,
    },
    features: {
      devInteractions: { enabled: false },
      revocation: {
        enabled: true,
        // RFC 7009 §2.1: a client revokes only tokens issued to it. The library's default says
        // the same but asks (on the console) to be replaced; so it is, stated here.
        allowedPolicy(_ctx, client, token) {
          if (token.clientId === client.clientId) return true
          // A public client proves nothing about itself: it learns nothing, nothing is revoked.
          if (client.clientAuthMethod === 'none') return false
          throw new errors.InvalidRequest('client is not authorized to revoke the presented token')
        },
      },
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
