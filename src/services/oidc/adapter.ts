import type { Adapter, AdapterPayload } from 'oidc-provider'
import { sha256Hex } from '../../crypto/token-digest.js'
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
import { loggable, type WarningLog, type Clock } from '../ports.js'
import { oidcLibrary } from './library.js'

/** How often expired rows are swept, at most; the sweep rides on a write, no timer needed. */
const SWEEP_EVERY_MS = 60_000

/** Models whose second use must fail even when two instances redeem them at the same moment. */
const SINGLE_USE = new Set(['AuthorizationCode', 'RefreshToken', 'DeviceCode'])

/**
 * Models whose ids are stored as given. Every other model's id is hashed (SPEC §5): for them
 * the id is the very value handed out (an authorization code, an access or refresh token, a
 * pushed request's `request_uri`), and the provider repeats it as the payload's `jti`, which
 * the row does not keep either. These ids carry ≥ 126 random bits (256 for codes and tokens,
 * the provider's `bitsOfOpaqueRandomness`), so a bare SHA-256 cannot be reversed and needs no
 * salt or key. The provider always asks by the raw id, so `find` hashes it and puts it back.
 *
 * Hashing is the default rather than a list of bearer models, so that a model the provider
 * adds, or a feature switched on later (client credentials, CIBA), is hashed without anyone
 * remembering to name it here. The exceptions are no credentials by themselves, and must come
 * back from their row with their id:
 * - Session: the provider finds it by `uid` (interaction and token checks, "use another
 *   account") and then saves or destroys it by id. The id travels only in the `_session`
 *   cookie, which is signed under a key derived from GATEHOUSE_SECRET_KEY.
 * - Interaction: its id is in the page URL the browser shows (`/oidc-interaction/<uid>`) and
 *   in its own payload's `returnTo`, so hashing it would hide nothing; it works only with the
 *   signed `_interaction` cookie.
 * - Grant: its id is every token's `grant_id`, by which a grant's tokens are revoked and
 *   listed; no endpoint accepts a grant id.
 */
const UNHASHED_ID_MODELS = new Set(['Session', 'Interaction', 'Grant'])

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
  log: WarningLog
}) {
  const { db, clock } = deps
  let lastSweepMs = -Infinity

  function sweepSometimes(nowMs: number): void {
    if (nowMs - lastSweepMs < SWEEP_EVERY_MS) return
    lastSweepMs = nowMs
    sweepExpiredOidcPayloads(db, nowMs).catch((err: unknown) =>
      deps.log.warn({ err: loggable(err) }, 'sweeping expired OpenID provider records failed'),
    )
  }

  function toPayload(row: { payload: string; consumed_at: number | null }): AdapterPayload {
    const payload = JSON.parse(row.payload) as AdapterPayload
    if (row.consumed_at !== null) payload.consumed = Math.floor(row.consumed_at / 1000)
    return payload
  }

  const text = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : null)

  return class GatehouseOidcAdapter implements Adapter {
    private readonly isHashed: boolean

    constructor(private readonly model: string) {
      this.isHashed = !UNHASHED_ID_MODELS.has(model)
    }

    /** The row's id: a hash of what the provider asks by, for the models hashed. */
    private storedId(id: string): string {
      return this.isHashed ? sha256Hex(id) : id
    }

    /** The payload as the provider saved it, its `jti` (the id itself) put back. */
    private restore(id: string, row: { payload: string; consumed_at: number | null }) {
      const payload = toPayload(row)
      if (this.isHashed) payload.jti = id
      return payload
    }

    /**
     * A hashed model's raw id cannot come back from a row found by another column, and the
     * provider saves what it finds (the device flow saves the DeviceCode it found by user code):
     * without its id it would be saved as a new object. Fail loudly instead. Nothing does this
     * today: only Session is looked up by uid, and the device flow is off (turning it on needs
     * more than this adapter: its Interaction's payload also names the device code).
     */
    private refuseLookupWithoutId(by: string): void {
      if (this.isHashed)
        throw new Error(`${this.model} ids are stored hashed; it cannot be found by ${by}`)
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      if (this.model === 'Client') throw new Error('clients are managed through the admin API')
      const nowMs = clock.now().getTime()
      // The provider repeats the id as `jti` in the payload; a hashed model's row keeps neither.
      const { jti: _id, ...stored } = payload
      await upsertOidcPayload(db, {
        model: this.model,
        id: this.storedId(id),
        payload: JSON.stringify(this.isHashed ? stored : payload),
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
      const row = await findOidcPayload(
        db,
        this.model,
        'id',
        this.storedId(id),
        clock.now().getTime(),
      )
      return row ? this.restore(id, row) : undefined
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      this.refuseLookupWithoutId('uid')
      const row = await findOidcPayload(db, this.model, 'uid', uid, clock.now().getTime())
      return row ? toPayload(row) : undefined
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      this.refuseLookupWithoutId('user code')
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
      const storedId = this.storedId(id)
      if (await consumeOidcPayload(db, this.model, storedId, clock.now().getTime())) return
      if (!SINGLE_USE.has(this.model)) return
      // Another request consumed it between the provider's read and this write: treat it as
      // the reuse it is (RFC 6749 §4.1.2, §10.4): refuse it and revoke what the grant issued.
      const row = await findOidcPayload(db, this.model, 'id', storedId, clock.now().getTime())
      if (row?.grant_id) await deleteOidcPayloadsByGrant(db, row.grant_id)
      const { errors } = await oidcLibrary()
      throw new errors.InvalidGrant('grant already used')
    }

    async destroy(id: string): Promise<void> {
      await deleteOidcPayload(db, this.model, this.storedId(id))
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      // This model's rows only: the provider revokes a grant by calling this on every model
      // at once, and statements deleting the same rows at once deadlock each other on InnoDB.
      await deleteOidcPayloadsOfGrant(db, this.model, grantId)
    }
  }
}
