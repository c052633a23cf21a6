import { GatehouseError } from '../services/errors.js'

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
// (String.prototype.isWellFormed would do, but it is not in Node 20.)
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

export interface StringFlaw {
  /** Where the string sits, dotted ("" for the value itself or a flawed key at the top). */
  path: string
  reason: string
}

function flawOf(text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain NUL characters'
  if (LONE_SURROGATE.test(text)) return 'must be well-formed Unicode (no lone surrogates)'
  return undefined
}

/**
 * NUL has no meaning anywhere in this API, and PostgreSQL refuses it in text; a lone UTF-16
 * surrogate (JSON allows "\ud800") cannot be encoded as UTF-8, so drivers, hashes and the QR
 * encoder choke on it. Either would turn a junk request into a 5xx. Finds the first such
 * string (or key) in a parsed body, query or params.
 */
export function findIllFormed(value: unknown, path: string, depth = 0): StringFlaw | undefined {
  if (typeof value === 'string') {
    const reason = flawOf(value)
    return reason === undefined ? undefined : { path, reason }
  }
  if (depth > 32 || typeof value !== 'object' || value === null) return undefined
  for (const [key, child] of Object.entries(value)) {
    const keyFlaw = flawOf(key)
    if (keyFlaw !== undefined) return { path, reason: keyFlaw }
    const found = findIllFormed(child, path ? `${path}.${key}` : key, depth + 1)
    if (found !== undefined) return found
  }
  return undefined
}

/**
 * One hook refuses such strings before any route sees them, naming the field as schema failures
 * do. A path that names no route is left to the not-found handler (404, or 405): it reads
 * nothing a NUL could break, and "no such route" is the true answer.
 */
export async function refuseIllFormed(request: {
  body: unknown
  query: unknown
  params: unknown
  is404: boolean
}): Promise<void> {
  if (request.is404) return
  for (const [part, value] of [
    ['params', request.params],
    ['querystring', request.query],
    ['body', request.body],
  ] as const) {
    const flaw = findIllFormed(value, '')
    if (flaw !== undefined) {
      throw new GatehouseError('validation_error', {
        detail: `${flaw.path ? `${part}.${flaw.path}` : part}: ${flaw.reason}`,
      })
    }
  }
}
