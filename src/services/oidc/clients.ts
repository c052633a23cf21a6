import type { AdapterPayload } from 'oidc-provider'
import { randomToken } from '../../crypto/random.js'
import { sha256Hex } from '../../crypto/token-digest.js'
import type { Db } from '../../store/db.js'
import {
  anyOidcClient,
  deleteOidcClient,
  findOidcClient,
  insertOidcClient,
  listOidcClients,
  updateOidcClient,
  type OidcClientRow,
} from '../../store/repositories/oidc-clients.js'
import { actorEvent, type AuditLog, type RequestContext } from '../audit/audit-log.js'
import { GatehouseError } from '../errors.js'
import { newId } from '../ids.js'
import { decodeCreatedAtCursor, pageOf, type CursorCodec, type Page } from '../pagination.js'
import type { Clock, Random } from '../ports.js'

/** The scopes of OpenID Connect itself (SPEC §4.12); a client may add API scopes for its resources. */
export const OIDC_SCOPES = ['openid', 'offline_access', 'profile', 'email', 'phone', 'roles']
export const ID_TOKEN_ALGS = ['RS256', 'EdDSA'] as const
export type IdTokenAlg = (typeof ID_TOKEN_ALGS)[number]
export type ClientType = 'public' | 'confidential'

export interface OidcClient {
  clientId: string
  name: string
  type: ClientType
  redirectUris: string[]
  postLogoutRedirectUris: string[]
  requireMfa: boolean
  scopes: string[]
  resources: string[]
  idTokenSignedResponseAlg: IdTokenAlg
  createdAt: Date
  updatedAt: Date
}

export interface OidcClientInput {
  name: string
  redirectUris: string[]
  postLogoutRedirectUris?: string[]
  type: ClientType
  requireMfa?: boolean
  scopes?: string[]
  resources?: string[]
  idTokenSignedResponseAlg?: IdTokenAlg
}

/** `type` is fixed at registration: given, it must be the client's own (a round trip of GET). */
export type OidcClientChanges = Partial<OidcClientInput>

interface StoredMetadata {
  redirect_uris: string[]
  post_logout_redirect_uris: string[]
  require_mfa: boolean
  scopes: string[]
  resources: string[]
  id_token_signed_response_alg: IdTokenAlg
}

/** Checks a metadata set the way the provider would, before it is stored. */
export type MetadataValidator = (metadata: AdapterPayload) => Promise<void>

const API_SCOPE = /^[A-Za-z][A-Za-z0-9:._-]{0,63}$/
const SECRET_PREFIX = 'ghcs_'

const invalid = (detail: string) => new GatehouseError('validation_error', { detail })
const notFound = () => new GatehouseError('not_found', { detail: 'no such OIDC client' })

function parsedUrl(field: string, value: string): URL {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw invalid(`${field}: ${JSON.stringify(value)} is not an absolute URL`)
  }
  if (url.hash !== '' || value.includes('#'))
    throw invalid(`${field}: a URL must not have a fragment`)
  return url
}

function absoluteUrl(field: string, value: string): string {
  parsedUrl(field, value)
  // Exact matching (SPEC §4.12) compares what was registered; keep it as given.
  return value
}

/** Where plain http is still a redirect target: this machine (RFC 8252 §7.3, RFC 9700 §2.1). */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]'])

/**
 * A URL the provider sends the browser to with a code or after a logout (RFC 9700 §2.1,
 * OAuth 2.1 §2.3.1): https, or http to a loopback host for development, since a code sent in
 * clear over the network is anyone's; no user name or password (a registered
 * `https://trusted@evil.example` reads as trusted but goes to evil.example, and the
 * credentials would travel in every redirect); no fragment. Registration by the admin API and
 * by the CLI both come through here.
 */
function redirectUri(field: string, value: string): string {
  const url = parsedUrl(field, value)
  const authority = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(value)?.[1] ?? ''
  // Not echoed: what sits before the @ may be a password.
  if (url.username !== '' || url.password !== '' || authority.includes('@'))
    throw invalid(`${field}: a redirect URI must not contain a user name or password`)
  const loopbackHttp = url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)
  if (url.protocol !== 'https:' && !loopbackHttp) {
    throw invalid(
      `${field}: ${JSON.stringify(value)} must be an https URL (plain http only for localhost, 127.0.0.1 or [::1])`,
    )
  }
  return value
}

function normalise(
  input: OidcClientInput | (OidcClientChanges & { type: ClientType }),
  base?: StoredMetadata,
): StoredMetadata {
  // What a change does not name is kept as stored, unchecked: a client registered before a
  // rule tightened still takes a new name or scope without its URIs being refused.
  const redirectUris = input.redirectUris
    ? input.redirectUris.map((u) => redirectUri('redirect_uris', u))
    : (base?.redirect_uris ?? [])
  if (redirectUris.length === 0) throw invalid('redirect_uris: at least one is needed')
  const scopes = [...new Set(input.scopes ?? base?.scopes ?? OIDC_SCOPES)]
  if (!scopes.includes('openid')) throw invalid('scopes: must include openid')
  for (const scope of scopes) {
    if (!OIDC_SCOPES.includes(scope) && !API_SCOPE.test(scope))
      throw invalid(`scopes: ${JSON.stringify(scope)} is not a valid scope`)
  }
  return {
    redirect_uris: [...new Set(redirectUris)],
    post_logout_redirect_uris: [
      ...new Set(
        input.postLogoutRedirectUris
          ? input.postLogoutRedirectUris.map((u) => redirectUri('post_logout_redirect_uris', u))
          : (base?.post_logout_redirect_uris ?? []),
      ),
    ],
    require_mfa: input.requireMfa ?? base?.require_mfa ?? false,
    scopes,
    resources: [
      ...new Set(
        (input.resources ?? base?.resources ?? []).map((u) => absoluteUrl('resources', u)),
      ),
    ],
    id_token_signed_response_alg:
      input.idTokenSignedResponseAlg ?? base?.id_token_signed_response_alg ?? 'RS256',
  }
}

function toClient(row: OidcClientRow): OidcClient {
  const m = JSON.parse(row.metadata) as StoredMetadata
  return {
    clientId: row.id,
    name: row.name,
    type: row.type as ClientType,
    redirectUris: m.redirect_uris,
    postLogoutRedirectUris: m.post_logout_redirect_uris,
    requireMfa: m.require_mfa,
    scopes: m.scopes,
    resources: m.resources,
    idTokenSignedResponseAlg: m.id_token_signed_response_alg,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  }
}

/**
 * What oidc-provider sees of a client. A confidential client's `client_secret` here is the
 * SHA-256 of the real secret: the provider's Client.prototype.compareClientSecret is replaced
 * to hash what the client presents (see provider.ts), and the features that would need the
 * secret in clear (HS* signatures, client_secret_jwt, symmetric encryption) are not enabled.
 */
export function providerMetadata(row: OidcClientRow): AdapterPayload {
  const m = JSON.parse(row.metadata) as StoredMetadata
  return {
    client_id: row.id,
    client_name: row.name,
    redirect_uris: m.redirect_uris,
    post_logout_redirect_uris: m.post_logout_redirect_uris,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    // SPEC §4.12: response_mode query only. The library serves fragment and form_post to any
    // client that does not list its modes; this list makes it refuse them (invalid_request).
    response_modes: ['query'],
    // The provider knows only OpenID scopes; API scopes belong to the client's resources.
    scope: m.scopes.filter((x) => OIDC_SCOPES.includes(x)).join(' '),
    api_scopes: m.scopes.filter((x) => !OIDC_SCOPES.includes(x)),
    id_token_signed_response_alg: m.id_token_signed_response_alg,
    require_mfa: m.require_mfa,
    resources: m.resources,
    ...(row.type === 'confidential' && row.secret_hash
      ? { token_endpoint_auth_method: 'client_secret_basic', client_secret: row.secret_hash }
      : { token_endpoint_auth_method: 'none' }),
  }
}

/** The hash a client secret is stored and compared as. */
export const hashClientSecret = (secret: string) => sha256Hex(secret)

export type OidcClients = ReturnType<typeof createOidcClients>

/** OIDC clients (SPEC §4.12): registered by admins or the CLI, secrets shown once, audited. */
export function createOidcClients(deps: {
  db: Db
  clock: Clock
  random: Random
  audit: AuditLog
  cursors: CursorCodec
  validate: MetadataValidator
}) {
  const { db, clock, random, audit, cursors } = deps

  async function validated(row: OidcClientRow): Promise<void> {
    try {
      await deps.validate(providerMetadata(row))
    } catch (err) {
      // The provider's own metadata checks, in its words (e.g. "redirect_uris must …").
      const described = (err as { error_description?: unknown }).error_description
      const message =
        typeof described === 'string' && described !== ''
          ? described
          : err instanceof Error && err.message !== ''
            ? err.message
            : 'the client metadata is not valid'
      throw invalid(message)
    }
  }

  return {
    async create(
      input: OidcClientInput,
      by: { actorId: string | null; context?: RequestContext },
    ): Promise<{ client: OidcClient; clientSecret: string | undefined }> {
      const metadata = normalise(input)
      const secret =
        input.type === 'confidential' ? `${SECRET_PREFIX}${randomToken(random, 32)}` : undefined
      const nowMs = clock.now().getTime()
      const row: OidcClientRow = {
        id: newId(random),
        name: input.name,
        type: input.type,
        secret_hash: secret === undefined ? null : hashClientSecret(secret),
        metadata: JSON.stringify(metadata),
        created_by: by.actorId,
        created_at: nowMs,
        updated_at: nowMs,
      }
      await validated(row)
      // Each change to a client is written with its audit event, or not at all: where an
      // application may send people's codes and tokens is what an intruder would change.
      await audit.change(async (trx, record) => {
        await insertOidcClient(trx, row)
        await record(
          actorEvent('oidc_client_created', by, {
            client_id: row.id,
            name: row.name,
            type: row.type,
          }),
        )
      })
      return { client: toClient(row), clientSecret: secret }
    },

    /** Whether any application is registered: with none, nothing needs the provider. */
    any: () => anyOidcClient(db),

    async list(opts: { limit: number; cursor?: string }): Promise<Page<OidcClient>> {
      const after = decodeCreatedAtCursor(cursors, opts.cursor)
      const rows = await listOidcClients(db, { limit: opts.limit + 1, after })
      return pageOf(cursors, rows, opts.limit, toClient)
    },

    async get(clientId: string): Promise<OidcClient> {
      const row = await findOidcClient(db, clientId)
      if (!row) throw notFound()
      return toClient(row)
    },

    async update(
      clientId: string,
      changes: OidcClientChanges,
      by: { actorId: string | null; context?: RequestContext },
    ): Promise<OidcClient> {
      const row = await findOidcClient(db, clientId)
      if (!row) throw notFound()
      if (changes.type !== undefined && changes.type !== row.type)
        throw invalid(`body.type: a ${row.type} client stays ${row.type}; register a new client`)
      const metadata = normalise(
        { ...changes, type: row.type as ClientType },
        JSON.parse(row.metadata) as StoredMetadata,
      )
      const next: OidcClientRow = {
        ...row,
        name: changes.name ?? row.name,
        metadata: JSON.stringify(metadata),
        updated_at: clock.now().getTime(),
      }
      await validated(next)
      await audit.change(async (trx, record) => {
        if (!(await updateOidcClient(trx, clientId, next))) throw notFound()
        await record(
          // What it may do now; the secret is never part of it.
          actorEvent('oidc_client_updated', by, {
            client_id: clientId,
            name: next.name,
            ...metadata,
          }),
        )
      })
      return toClient(next)
    },

    async remove(
      clientId: string,
      by: { actorId: string | null; context?: RequestContext },
    ): Promise<void> {
      const row = await findOidcClient(db, clientId)
      if (!row) throw notFound()
      await audit.change(async (trx, record) => {
        if (!(await deleteOidcClient(trx, clientId))) throw notFound()
        await record(actorEvent('oidc_client_deleted', by, { client_id: row.id, name: row.name }))
      })
    },

    /** The provider-side metadata, for the storage adapter. */
    async metadata(clientId: string): Promise<AdapterPayload | undefined> {
      const row = await findOidcClient(db, clientId)
      return row ? providerMetadata(row) : undefined
    },

    async names(clientIds: readonly string[]): Promise<Map<string, string>> {
      const out = new Map<string, string>()
      for (const id of new Set(clientIds)) {
        const row = await findOidcClient(db, id)
        if (row) out.set(id, row.name)
      }
      return out
    },
  }
}
