import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Interaction, InteractionResults, Provider } from 'oidc-provider'
import type { Db } from '../../store/db.js'
import {
  deleteOidcConsents,
  findOidcConsent,
  listOidcConsents,
  saveOidcConsent,
} from '../../store/repositories/oidc-consents.js'
import {
  deleteOidcGrantsOf,
  deleteOidcPayloadsBySessionUids,
  takeOidcSessionLinks,
} from '../../store/repositories/oidc-payloads.js'
import { findSession } from '../../store/repositories/sessions.js'
import type { AuditLog, RequestContext } from '../audit/audit-log.js'
import { GatehouseError } from '../errors.js'
import type { Clock } from '../ports.js'
import type { AccessClaims } from '../tokens/access-tokens.js'
import type { OidcClients } from './clients.js'
import { acrOf, wantsMfa } from './configuration.js'
import type { OidcProvider } from './provider.js'

export interface InteractionView {
  client: { clientId: string; name: string }
  scopes: string[]
  prompt: { name: string; reasons: string[]; details: Record<string, unknown> }
}

export interface OidcGrantView {
  clientId: string
  name: string
  scopes: string[]
  createdAt: Date
  updatedAt: Date
}

/** Prompt details the UI may see: never the id_token_hint or anything else a client sent as a token. */
const SHOWN_DETAILS = [
  'max_age',
  'login_hint',
  'acr',
  'missingOIDCScope',
  'missingOIDCClaims',
  'missingResourceScopes',
]

const gone = () =>
  new GatehouseError('not_found', {
    detail: 'no such sign-in in progress: it expired, or was started in another browser or tab',
  })

export type OidcInteractions = ReturnType<typeof createOidcInteractions>

/**
 * The server half of the login and consent screens (SPEC §4.12). The provider binds an
 * interaction to the browser that started it through a cookie; these calls read that cookie,
 * so a link to someone else's sign-in cannot be finished with another person's token.
 */
export function createOidcInteractions(deps: {
  db: Db
  clock: Clock
  oidc: OidcProvider
  clients: OidcClients
  audit: AuditLog
}) {
  const { db, clock, oidc, clients, audit } = deps

  async function load(req: IncomingMessage, res: ServerResponse, uid: string) {
    const provider = await oidc.provider()
    let interaction: Interaction
    try {
      interaction = await provider.interactionDetails(req, res)
    } catch (err) {
      // Only "no such interaction for this browser" is a 404: the lookup reads the database,
      // and an outage there must stay the 503 it is. By name, so that this module needs no
      // import of the provider library (it loads only when OIDC is used).
      if (err instanceof Error && err.name === 'SessionNotFound') throw gone()
      throw err
    }
    if (interaction.uid !== uid) throw gone()
    return { provider, interaction }
  }

  const clientIdOf = (interaction: Interaction) => String(interaction.params.client_id)

  /**
   * Detaches an interaction from the provider session it began in and ends that session, so
   * the login that finishes it opens a fresh one. Left attached, the interaction would die
   * with the session (the previous person's logout ends it), or the provider would end that
   * session itself through a page that posts itself with an inline script.
   */
  async function startOver(provider: Provider, interaction: Interaction): Promise<void> {
    const previous = interaction.session?.uid
    if (previous) await (await provider.Session.findByUid(previous))?.destroy()
    interaction.session = undefined
    await interaction.persist() // keeps its expiry
  }

  async function finish(
    req: IncomingMessage,
    res: ServerResponse,
    result: InteractionResults,
    merge: boolean,
  ): Promise<string> {
    const provider = await oidc.provider()
    return provider.interactionResult(req, res, result, { mergeWithLastSubmission: merge })
  }

  return {
    async details(
      req: IncomingMessage,
      res: ServerResponse,
      uid: string,
    ): Promise<InteractionView> {
      const { interaction } = await load(req, res, uid)
      const clientId = clientIdOf(interaction)
      // A client deleted since the sign-in began: the sign-in is gone with it (an outage is not).
      const client = await clients.get(clientId).catch((err: unknown) => {
        throw err instanceof GatehouseError && err.code === 'not_found' ? gone() : err
      })
      const details = Object.fromEntries(
        Object.entries(interaction.prompt.details).filter(([k]) => SHOWN_DETAILS.includes(k)),
      )
      return {
        client: { clientId, name: client.name },
        scopes: (typeof interaction.params.scope === 'string' ? interaction.params.scope : '')
          .split(' ')
          .filter(Boolean),
        prompt: { name: interaction.prompt.name, reasons: interaction.prompt.reasons, details },
      }
    },

    /**
     * Signs the person in with the Gatehouse session their access token belongs to. At the
     * consent step this starts the sign-in over: whoever was signed in chose "use another
     * account" (or signed in again), so the consent is asked of this person instead.
     */
    async login(
      req: IncomingMessage,
      res: ServerResponse,
      uid: string,
      principal: AccessClaims,
    ): Promise<string> {
      const { provider, interaction } = await load(req, res, uid)
      const step = interaction.prompt.name
      if (step !== 'login' && step !== 'consent')
        throw new GatehouseError('conflict', { detail: 'this sign-in does not ask for a login' })
      const session = await findSession(db, principal.sid)
      if (!session || session.ended_at !== null)
        throw new GatehouseError('invalid_token', { detail: 'the session has ended' })
      const metadata = (await clients.metadata(clientIdOf(interaction))) ?? {}
      if (wantsMfa(interaction.params, metadata) && !principal.amr.includes('mfa')) {
        throw new GatehouseError('mfa_required', {
          detail: 'this application asks for a sign-in with a second factor',
        })
      }
      // prompt=login and max_age ask for an authentication newer than the request, or than
      // max_age seconds (OIDC Core §3.1.2.1): a session opened earlier is not good enough.
      const { reasons } = interaction.prompt
      const maxAge = Number(interaction.params.max_age)
      const loginAtMs = session.created_at
      const stale =
        (reasons.includes('login_prompt') && loginAtMs < interaction.iat * 1000 - 1000) ||
        (reasons.includes('max_age') &&
          Number.isFinite(maxAge) &&
          clock.now().getTime() - loginAtMs > maxAge * 1000)
      if (stale) {
        throw new GatehouseError('invalid_token', {
          detail: 'this application asks for a fresh sign-in: sign in again',
        })
      }
      // The interaction waits on another provider session than this person's (someone else
      // signed in at the web UI meanwhile, or it ended): it goes on with theirs instead.
      const origin = interaction.session
      const elsewhere =
        origin?.uid !== undefined &&
        (origin.accountId !== principal.sub || !(await provider.Session.findByUid(origin.uid)))
      if (step === 'consent' || elsewhere) await startOver(provider, interaction)
      return finish(
        req,
        res,
        {
          login: {
            accountId: principal.sub,
            amr: principal.amr,
            acr: acrOf(principal.amr),
            ts: Math.floor(loginAtMs / 1000),
            remember: true,
          },
          gatehouse: { sessionId: principal.sid },
        },
        false,
      )
    },

    /**
     * "Use another account": the person the interaction was waiting on steps out of it, so
     * they can sign out and someone else can sign in to finish it. Their provider session ends
     * here; the interaction, still in this browser, waits for whoever logs in to it next.
     */
    async restart(
      req: IncomingMessage,
      res: ServerResponse,
      uid: string,
      principal: AccessClaims,
    ): Promise<void> {
      const { provider, interaction } = await load(req, res, uid)
      const accountId = interaction.session?.accountId
      if (accountId === undefined) return
      if (accountId !== principal.sub)
        throw new GatehouseError('forbidden', { detail: 'this sign-in belongs to someone else' })
      await startOver(provider, interaction)
    },

    /** Allows or denies what the client asked for; an allowed consent is remembered. */
    async consent(
      req: IncomingMessage,
      res: ServerResponse,
      uid: string,
      principal: AccessClaims,
      allow: boolean,
    ): Promise<string> {
      const { provider, interaction } = await load(req, res, uid)
      if (interaction.prompt.name !== 'consent')
        throw new GatehouseError('conflict', { detail: 'this sign-in does not ask for consent' })
      const accountId = interaction.session?.accountId
      if (accountId !== principal.sub)
        throw new GatehouseError('forbidden', { detail: 'this sign-in belongs to someone else' })
      if (!allow) {
        return finish(
          req,
          res,
          { error: 'access_denied', error_description: 'the person denied the request' },
          true,
        )
      }
      const clientId = clientIdOf(interaction)
      const grant =
        (interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined) ??
        new provider.Grant({ accountId, clientId })
      const details = interaction.prompt.details as {
        missingOIDCScope?: string[]
        missingOIDCClaims?: string[]
        missingResourceScopes?: Record<string, string[]>
      }
      if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '))
      if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims)
      for (const [resource, scopes] of Object.entries(details.missingResourceScopes ?? {}))
        grant.addResourceScope(resource, scopes.join(' '))
      const grantId = await grant.save()

      const nowMs = clock.now().getTime()
      const previous = await findOidcConsent(db, accountId, clientId)
      const resources: Record<string, string> = {}
      for (const [resource, scope] of Object.entries(grant.resources ?? {}))
        if (typeof scope === 'string') resources[resource] = scope
      await saveOidcConsent(db, {
        account_id: accountId,
        client_id: clientId,
        scopes: grant.getOIDCScope(),
        resources: JSON.stringify(resources),
        created_at: previous?.created_at ?? nowMs,
        updated_at: nowMs,
      })
      return finish(req, res, { consent: { grantId } }, true)
    },

    /** The consents a person gave (SPEC §4.12 `GET /api/auth/oidc-grants`). */
    async listGrants(accountId: string): Promise<OidcGrantView[]> {
      const rows = await listOidcConsents(db, accountId)
      const names = await clients.names(rows.map((r) => r.client_id))
      return rows.map((r) => ({
        clientId: r.client_id,
        name: names.get(r.client_id) ?? r.client_id,
        scopes: r.scopes.split(' ').filter(Boolean),
        createdAt: new Date(r.created_at),
        updatedAt: new Date(r.updated_at),
      }))
    },

    /**
     * Forgets consents (one client's, or all) and ends the tokens issued under them. Audited
     * as the revocation endpoint audits one token (SPEC §4.12 `oidc_token_revoked`), once per
     * application whose tokens ended.
     */
    async revokeGrants(
      accountId: string,
      opts: { clientId?: string; context?: RequestContext } = {},
    ): Promise<void> {
      const { clientId, context } = opts
      const revoked = await deleteOidcConsents(db, accountId, clientId)
      if (clientId !== undefined && revoked.length === 0)
        throw new GatehouseError('not_found', { detail: 'no consent for this client' })
      for (const id of revoked) {
        await deleteOidcGrantsOf(db, accountId, id)
        await audit.record({
          event: 'oidc_token_revoked',
          outcome: 'success',
          userId: accountId,
          details: { client_id: id, via: 'grant' },
          context,
        })
      }
    },

    /** Ends the provider sessions, codes and tokens that came from ended Gatehouse sessions. */
    /** Through `trx`, the transaction that ends those Gatehouse sessions. */
    async endGatehouseSessions(trx: Db, sessionIds: readonly string[]): Promise<void> {
      const uids = await takeOidcSessionLinks(trx, sessionIds)
      await deleteOidcPayloadsBySessionUids(trx, uids)
    },
  }
}
