import { GatehouseError } from '../services/errors.js'

/**
 * NUL has no meaning anywhere in this API, and PostgreSQL refuses it in text, which would turn
 * a junk request into a 5xx. One hook refuses it in every body, query and path parameter
 * before any route sees it, naming the field as schema failures do.
 */
export function findNul(value: unknown, path: string, depth = 0): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? path : undefined
  if (depth > 32 || typeof value !== 'object' || value === null) return undefined
  for (const [key, child] of Object.entries(value)) {
    const found = key.includes('\u0000')
      ? path
      : findNul(child, path ? `${path}.${key}` : key, depth + 1)
    if (found !== undefined) return found
  }
  return undefined
}

export async function refuseNul(request: {
  body: unknown
  query: unknown
  params: unknown
}): Promise<void> {
  for (const [part, value] of [
    ['params', request.params],
    ['querystring', request.query],
    ['body', request.body],
  ] as const) {
    const field = findNul(value, '')
    if (field !== undefined) {
      throw new GatehouseError('validation_error', {
        detail: `${field ? `${part}.${field}` : part}: must not contain NUL characters`,
      })
    }
  }
}
