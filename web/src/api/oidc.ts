import { api, request } from './client'

/** `GET /api/oidc/interaction/:uid` (SPEC §4.12): who asks, for what, and which step is due. */
export interface Interaction {
  client: { client_id: string; name: string }
  scopes: string[]
  prompt: {
    /** 'login' or 'consent' */
    name: string
    reasons: string[]
    details: {
      max_age?: number
      missingOIDCScope?: string[]
      missingResourceScopes?: Record<string, string[]>
    } & Record<string, unknown>
  }
}

/** A remembered consent (`GET /api/auth/oidc-grants`). */
export interface OidcGrant {
  client_id: string
  name: string
  scopes: string[]
  created_at: string
  updated_at: string
}

/** The path of the UI route the provider sends the browser to. */
export const interactionPath = (uid: string) => `/oidc-interaction/${encodeURIComponent(uid)}`

/** The interaction uid inside a `redirect` query, when it points at an interaction screen. */
export function interactionUidIn(redirect: unknown): string | undefined {
  if (typeof redirect !== 'string') return undefined
  return /^\/oidc-interaction\/([A-Za-z0-9_-]{1,64})(?:\?[^#]*)?$/.exec(redirect)?.[1]
}

export const oidcApi = {
  interaction: (uid: string) =>
    api.get<Interaction>(`/api/oidc/interaction/${encodeURIComponent(uid)}`),
  /**
   * A 401 here can mean "this application wants a newer sign-in" (prompt=login, max_age) while
   * the session is alive, so the caller decides rather than the client's session handling.
   */
  login: (uid: string) =>
    request<{ redirect_to: string }>(
      'POST',
      `/api/oidc/interaction/${encodeURIComponent(uid)}/login`,
      { body: {}, recover: false },
    ),
  /** "Use another account": the signed-in person steps out of this sign-in before signing out. */
  restart: (uid: string) =>
    api.post<void>(`/api/oidc/interaction/${encodeURIComponent(uid)}/restart`, {}),
  consent: (uid: string, allow: boolean) =>
    api.post<{ redirect_to: string }>(`/api/oidc/interaction/${encodeURIComponent(uid)}/consent`, {
      allow,
    }),
  grants: () => api.get<{ items: OidcGrant[] }>('/api/auth/oidc-grants'),
  revokeGrant: (clientId: string) =>
    api.delete(`/api/auth/oidc-grants/${encodeURIComponent(clientId)}`),
}
