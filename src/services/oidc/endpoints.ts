/** An HTTP method the provider answers on one of its routes (GET includes HEAD). */
export type OidcMethod = 'GET' | 'POST' | 'OPTIONS'

export interface OidcRoute {
  /** oidc-provider's name for the route (`provider.pathFor(name)`). */
  name: string
  /** The path after the mount. */
  path: string
  methods: readonly OidcMethod[]
}

/**
 * The provider's routes under the mount, with the methods it answers on each for the features
 * provider.ts enables (oidc-provider 9: lib/helpers/initialize_app.js). The mount registers
 * exactly these, so an unknown path or another method is Gatehouse's 404 or 405 problem
 * (SPEC §3) instead of the library's plain-text "Not Found"; OPTIONS is its CORS preflight.
 * A feature turned on in provider.ts adds its route here (oidc-surface.test.ts checks the
 * paths against the provider's own).
 */
export const OIDC_ROUTES: readonly OidcRoute[] = [
  // POST is read by the mount and handed over as the GET (routes/oidc.ts).
  { name: 'authorization', path: '/auth', methods: ['GET'] },
  { name: 'resume', path: '/auth/:uid', methods: ['GET'] },
  { name: 'userinfo', path: '/me', methods: ['GET', 'POST', 'OPTIONS'] },
  { name: 'token', path: '/token', methods: ['POST', 'OPTIONS'] },
  { name: 'revocation', path: '/token/revocation', methods: ['POST', 'OPTIONS'] },
  { name: 'pushed_authorization_request', path: '/request', methods: ['POST', 'OPTIONS'] },
  { name: 'end_session', path: '/session/end', methods: ['GET'] },
  { name: 'end_session_confirm', path: '/session/end/confirm', methods: ['POST'] },
  { name: 'end_session_success', path: '/session/end/success', methods: ['GET'] },
  // GET is Gatehouse's one JWKS (routes/oidc.ts); the provider answers the preflight.
  { name: 'jwks', path: '/jwks', methods: ['OPTIONS'] },
  {
    name: 'discovery',
    path: '/.well-known/oauth-authorization-server',
    methods: ['GET', 'OPTIONS'],
  },
  { name: 'discovery', path: '/.well-known/openid-configuration', methods: ['GET', 'OPTIONS'] },
]
