import { createHmac } from 'node:crypto'
import { equalText } from '../crypto/compare.js'
import { GatehouseError } from './errors.js'

export interface Page<T> {
  items: T[]
  nextCursor: string | null
}

export interface CursorCodec {
  encode(position: Record<string, string | number>): string
  /** Throws `validation_error` for anything we did not issue (SPEC §3: a tampered cursor). */
  decode(cursor: string): Record<string, string | number>
}

/**
 * Cursors are opaque to clients but carry a position; a MAC stops a client from forging one
 * that points somewhere we never sent them (or makes our queries chew on junk). The MAC covers
 * the `list` too, so a cursor from one list is refused by another (SPEC §3: a tampered cursor)
 * instead of paging it from a position that means something else there.
 */
export function createCursorCodec(key: Buffer, list: string): CursorCodec {
  const mac = (payload: string) =>
    createHmac('sha256', key).update(`${list}\n${payload}`).digest().subarray(0, 16)
  const invalid = () =>
    new GatehouseError('validation_error', { detail: 'cursor: is not a cursor this server issued' })
  return {
    encode(position) {
      const payload = Buffer.from(JSON.stringify(position)).toString('base64url')
      return `${payload}.${mac(payload).toString('base64url')}`
    },
    decode(cursor) {
      const [payload, tag, ...rest] = cursor.split('.')
      if (!payload || !tag || rest.length > 0) throw invalid()
      // Compared as text: decoding would take other spellings of the same bytes (the last
      // character's spare bits, padding), and a changed cursor must be refused (SPEC §3).
      if (!equalText(tag, mac(payload).toString('base64url'))) throw invalid()
      const parsed: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid()
      return parsed as Record<string, string | number>
    },
  }
}

/** The `(created_at, id)` position most lists page by; refuses any other cursor shape. */
export function decodeCreatedAtCursor(
  codec: CursorCodec,
  cursor: string | undefined,
): { createdAt: number; id: string } | undefined {
  if (cursor === undefined) return undefined
  const { c, i } = codec.decode(cursor)
  if (typeof c !== 'number' || typeof i !== 'string') {
    throw new GatehouseError('validation_error', {
      detail: 'cursor: is not a cursor this server issued',
    })
  }
  return { createdAt: c, id: i }
}

/** Builds a page from `limit + 1` rows: the extra row only says whether another page exists. */
export function pageOf<R extends { created_at: number; id: string }, T>(
  codec: CursorCodec,
  rows: R[],
  limit: number,
  map: (row: R) => T,
): Page<T> {
  const page = rows.slice(0, limit)
  const last = page.at(-1)
  return {
    items: page.map(map),
    nextCursor:
      rows.length > limit && last ? codec.encode({ c: last.created_at, i: last.id }) : null,
  }
}
