import { createHash } from 'node:crypto'

/** The previous hash of the first row (SPEC §4.14): 32 zero bytes. */
export const GENESIS_HASH = '0'.repeat(64)

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

/**
 * RFC 8785 (JCS) for the values an audit row holds: object members sorted by their UTF-16
 * code units (what Array#sort does), no whitespace, strings and numbers written as
 * ECMAScript's JSON.stringify writes them. No JCS package is installed, and for these
 * value kinds the whole standard is these few lines.
 */
export function canonicalJson(value: Json): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string')
    return JSON.stringify(value)
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonical JSON has no NaN or Infinity')
    return JSON.stringify(value)
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  const keys = Object.keys(value).sort()
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k]!)}`).join(',')}}`
}

/** One audit event as exported and as the chain seals it (`hash` itself excluded). */
export interface ChainRecord {
  id: string
  time: string
  event: string
  outcome: string
  user_id: string | null
  username: string | null
  ip: string | null
  user_agent: string | null
  actor_id: string | null
  details: { [key: string]: Json } | null
}

/** `hash = SHA-256(previous hash ‖ canonical JSON of the row)`, hex. */
export function chainHash(previousHex: string, record: ChainRecord): string {
  return createHash('sha256')
    .update(Buffer.from(previousHex, 'hex'))
    .update(canonicalJson(record as unknown as Json), 'utf8')
    .digest('hex')
}

/** The stored row as the chain sees it; stored details that are no JSON object are a broken row. */
export function toChainRecord(row: {
  id: number | string
  time: number | string
  event: string
  outcome: string
  user_id: string | null
  username: string | null
  ip: string | null
  user_agent: string | null
  actor_id: string | null
  details: string | null
}): ChainRecord {
  let details: ChainRecord['details'] = null
  if (row.details !== null) {
    const parsed: unknown = JSON.parse(row.details)
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new TypeError('audit details are not a JSON object')
    details = parsed as ChainRecord['details']
  }
  return {
    id: String(row.id),
    time: new Date(Number(row.time)).toISOString(),
    event: row.event,
    outcome: row.outcome,
    user_id: row.user_id,
    username: row.username,
    ip: row.ip,
    user_agent: row.user_agent,
    actor_id: row.actor_id,
    details,
  }
}
