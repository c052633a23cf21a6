import { randomToken } from '../../crypto/random.js'
import { sha256Hex } from '../../crypto/token-digest.js'
import type { Db } from '../../store/db.js'
import {
  findActiveApiKeyByHash,
  insertApiKey,
  listActiveApiKeys,
  revokeApiKey,
  touchApiKey,
  type ApiKeyRow,
} from '../../store/repositories/api-keys.js'
import { actorEvent, type AuditLog, type RequestContext } from '../audit/audit-log.js'
import type { InvalidationBus } from '../cache/invalidation.js'
import { TtlCache } from '../cache/ttl-cache.js'
import { GatehouseError } from '../errors.js'
import { newId } from '../ids.js'
import { decodeCreatedAtCursor, pageOf, type CursorCodec, type Page } from '../pagination.js'
import type { Clock, Random } from '../ports.js'

// A key's name and owner: what an admin reads in lists and the audit log.
const LABEL = /^[^\u0000-\u001f\u007f]{1,128}$/u // eslint-disable-line no-control-regex

export const API_KEY_SCOPES = ['totp', 'introspect'] as const
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number]

export interface ApiKey {
  id: string
  name: string
  owner: string
  scopes: ApiKeyScope[]
  createdAt: Date
  lastUsedAt: Date | null
}

export type ApiKeys = ReturnType<typeof createApiKeys>

// The prefix lets secret scanners (and people) recognise a leaked key.
const PREFIX = 'ghk_'
const KEY_SHAPE = /^ghk_[A-Za-z0-9_-]{43}$/
const CACHE_ENTRIES = 1_000
const TOUCH_EVERY_MS = 60_000

function toApiKey(row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    name: row.name,
    owner: row.owner,
    scopes: JSON.parse(row.scopes) as ApiKeyScope[],
    createdAt: new Date(row.created_at),
    lastUsedAt: row.last_used_at === null ? null : new Date(row.last_used_at),
  }
}

const invalidKey = () =>
  new GatehouseError('invalid_api_key', { detail: 'the API key is unknown or revoked' })

/** API keys for other services (SPEC §4.6): shown once, stored as SHA-256, scoped, revocable. */
export function createApiKeys(deps: {
  db: Db
  clock: Clock
  random: Random
  audit: AuditLog
  cursors: CursorCodec
  bus: InvalidationBus
  cacheTtlMs?: number
}) {
  const { db, clock, random, audit, cursors, bus } = deps
  const cacheTtlMs = deps.cacheTtlMs ?? 5_000
  // Every TOTP-service or introspection call presents its key; remembering recent lookups saves
  // a query each. A revocation clears it on this instance at once (and, announced, on others).
  const cache = new TtlCache<string, ApiKey>(CACHE_ENTRIES)
  const touchedAt = new Map<string, number>()
  // Bumped on every revocation, so a lookup that started before one is not cached after it.
  let generation = 0
  const forgetAll = () => {
    cache.clear()
    generation++
  }
  bus.subscribe((m) => {
    if (m.kind === 'api_key_revoked') forgetAll()
  })

  return {
    async create(
      input: { name: string; scopes: ApiKeyScope[]; owner: string },
      by: { actorId: string | null; context?: RequestContext },
    ): Promise<{ apiKey: ApiKey; key: string }> {
      // The API's schema says as much; the CLI comes here without it.
      for (const [field, value] of [
        ['name', input.name],
        ['owner', input.owner],
      ] as const) {
        if (!LABEL.test(value))
          throw new GatehouseError('validation_error', {
            detail: `${field}: must be 1 to 128 characters, none of them control characters`,
          })
      }
      const scopes = API_KEY_SCOPES.filter((s) => input.scopes.includes(s))
      if (scopes.length === 0 || scopes.length !== new Set(input.scopes).size) {
        throw new GatehouseError('validation_error', {
          detail: `scopes: must be one or more of ${API_KEY_SCOPES.join(', ')}`,
        })
      }
      const key = `${PREFIX}${randomToken(random, 32)}`
      const nowMs = clock.now().getTime()
      const row = {
        id: newId(random),
        name: input.name,
        owner: input.owner,
        scopes: JSON.stringify(scopes),
        key_hash: sha256Hex(key),
        created_by: by.actorId,
        created_at: nowMs,
        last_used_at: null,
        revoked_at: null,
      }
      // With its audit event or not at all: a key no one can account for is what an intruder
      // with admin rights would want.
      await audit.change(async (trx, record) => {
        await insertApiKey(trx, row)
        await record(
          actorEvent('api_key_created', by, {
            api_key_id: row.id,
            name: row.name,
            owner: row.owner,
            scopes,
          }),
        )
      })
      return { apiKey: toApiKey(row), key }
    },

    async list(opts: { limit: number; cursor?: string }): Promise<Page<ApiKey>> {
      const after = decodeCreatedAtCursor(cursors, opts.cursor)
      const rows = await listActiveApiKeys(db, { limit: opts.limit + 1, after })
      return pageOf(cursors, rows, opts.limit, toApiKey)
    },

    async revoke(
      id: string,
      by: { actorId: string | null; context?: RequestContext },
    ): Promise<void> {
      await audit.change(async (trx, record) => {
        const row = await revokeApiKey(trx, id, clock.now().getTime())
        if (!row) throw new GatehouseError('not_found', { detail: 'no such API key' })
        await record(
          actorEvent('api_key_revoked', by, { api_key_id: id, name: row.name, owner: row.owner }),
        )
      })
      forgetAll()
      bus.publish({ kind: 'api_key_revoked', id })
    },

    /** The key behind an `X-API-Key` header; throws `invalid_api_key` for unknown or revoked. */
    async authenticate(presented: string): Promise<ApiKey> {
      if (!KEY_SHAPE.test(presented)) throw invalidKey()
      const hash = sha256Hex(presented)
      const nowMs = clock.now().getTime()
      let apiKey = cache.get(hash, nowMs)
      if (!apiKey) {
        const startedAt = generation
        const row = await findActiveApiKeyByHash(db, hash)
        if (!row) throw invalidKey()
        apiKey = toApiKey(row)
        if (generation === startedAt) cache.set(hash, apiKey, nowMs + cacheTtlMs)
      }
      // last_used_at is for humans deciding which keys are dead: minute precision is plenty,
      // and it spares a write per request.
      if (nowMs - (touchedAt.get(apiKey.id) ?? -Infinity) >= TOUCH_EVERY_MS) {
        touchedAt.set(apiKey.id, nowMs)
        if (touchedAt.size > CACHE_ENTRIES) touchedAt.clear()
        await touchApiKey(db, apiKey.id, nowMs)
      }
      return apiKey
    },
  }
}
