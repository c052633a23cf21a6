import type { Adapter, AdapterPayload } from 'oidc-provider'
import type { Db } from '../../store/db.js'
import {
  consumeOidcPayload,
  deleteOidcPayload,
  deleteOidcPayloadsByGrant,
  deleteOidcPayloadsOfGrant,
  findOidcPayload,
  sweepExpiredOidcPayloads,
  upsertOidcPayload,
} from '../../store/repositories/oidc-payloads.js'
import type { Clock } from '../ports.js'
import { oidcLibrary } from './library.js'

/** How often expired rows are swept, at most; the sweep rides on a write, no timer needed. */
const SWEEP_EVERY_MS = 60_000

/** Models whose second use must fail even when two instances redeem them at the same moment. */
const SINGLE_USE = new Set(['AuthorizationCode', 'RefreshToken', 'DeviceCode'])

export interface OidcClientSource {
  /** The provider-side metadata of a registered client, or undefined for an unknown id. */
  metadata(clientId: string): Promise<AdapterPayload | undefined>
}

/**
 * oidc-provider's storage adapter on Gatehouse's database: one class the provider constructs
 * per model name. Clients come from the admin-managed `oidc_clients` table; everything else
 * (sessions, interactions, grants, codes, tokens) lives in `oidc_payloads`.
 */
export function createOidcAdapter(deps: {
  db: Db
  clock: Clock
  clients: OidcClientSource
  onBackgroundError?: (err: unknown) => void
}) {
  const { db, clock } = deps
  let lastSweepMs = -Infinity

  function sweepSometimes(nowMs: number): void {
    if (nowMs - lastSweepMs < SWEEP_EVERY_MS) return
    lastSweepMs = nowMs
    sweepExpiredOidcPayloads(db, nowMs).catch((err: unknown) => deps.onBackgroundError?.(err))
  }

  function toPayload(row: { payload: string; consumed_at: number | null }): AdapterPayload {
    const payload = JSON.parse(row.payload) as AdapterPayload
    if (row.consumed_at !== null) payload.consumed = Math.floor(row.consumed_at / 1000)
    return payload
  }

  const text = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : null)

  return class GatehouseOidcAdapter implements Adapter {
    constructor(private readonly model: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      if (this.model === 'Client') throw new Error('clients are managed through the admin API')
      const nowMs = clock.now().getTime()
      await upsertOidcPayload(db, {
        model: this.model,
        id,
        payload: JSON.stringify(payload),
        grant_id: text(payload.grantId),
        uid: text(payload.uid),
        user_code: text(payload.userCode),
        session_uid: text(payload.sessionUid),
        account_id: text(payload.accountId),
        client_id: text(payload.clientId),
        expires_at: expiresIn > 0 ? nowMs + expiresIn * 1000 : null,
        consumed_at: null,
      })
      sweepSometimes(nowMs)
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.model === 'Client') return deps.clients.metadata(id)
      const row = await findOidcPayload(db, this.model, 'id', id, clock.now().getTime())
      return row ? toPayload(row) : undefined
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const row = await findOidcPayload(db, this.model, 'uid', uid, clock.now().getTime())
      return row ? toPayload(row) : undefined
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      const row = await findOidcPayload(
        db,
        this.model,
        'user_code',
        userCode,
        clock.now().getTime(),
      )
      return row ? toPayload(row) : undefined
    }

    async consume(id: string): Promise<void> {
      if (await consumeOidcPayload(db, this.model, id, clock.now().getTime())) return
      if (!SINGLE_USE.has(this.model)) return
      // Another request consumed it between the provider's read and this write: treat it as
      // the reuse it is (RFC 6749 §4.1.2, §10.4): refuse it and revoke what the grant issued.
      const row = await findOidcPayload(db, this.model, 'id', id, clock.now().getTime())
      if (row?.grant_id) await deleteOidcPayloadsByGrant(db, row.grant_id)
      const { errors } = await oidcLibrary()
      throw new errors.InvalidGrant('grant already used')
    }

    async destroy(id: string): Promise<void> {
      await deleteOidcPayload(db, this.model, id)
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      // This model's rows only: the provider revokes a grant by calling this on every model
      // at once, and statements deleting the same rows at once deadlock each other on InnoDB.
      await deleteOidcPayloadsOfGrant(db, this.model, grantId)
    }
  }
}
