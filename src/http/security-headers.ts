import type { IncomingMessage, ServerResponse } from 'node:http'
import helmet, { type HelmetOptions } from 'helmet'

/**
 * helmet's header set, computed once. @fastify/helmet rebuilds the middleware (and re-parses
 * the CSP) on every request, which cost /api/auth/me about a sixth of its CPU; our headers
 * never vary per request, so we ask helmet once at start-up and replay its answer.
 */
export function securityHeaders(options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {}
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value)
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()]
    },
  }
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, () => undefined)
  return headers
}

/** The headers of helmet's set that still mean something on a JSON response. */
const KEPT_FOR_DATA = [
  'cross-origin-resource-policy',
  'referrer-policy',
  'strict-transport-security',
  'x-content-type-options',
]

/**
 * The headers of a JSON response (OWASP REST Security Cheat Sheet): nothing may load or frame
 * it if a browser ever renders it as a page, and none of the page-only headers (DNS prefetch,
 * download options, XSS auditor, the web UI's CSP sources) that made every API answer about
 * 500 bytes longer than it needs to be.
 */
export function dataHeaders(documentHeaders: Record<string, string>): Record<string, string> {
  const headers: Record<string, string> = {
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    'x-frame-options': 'DENY',
  }
  for (const name of KEPT_FOR_DATA) {
    const value = documentHeaders[name]
    if (value !== undefined) headers[name] = value
  }
  return headers
}

/** Paths that answer JSON only, never a page of the web UI. */
export function servesDataOnly(url: string): boolean {
  return (
    url.startsWith('/api/') ||
    url.startsWith('/.well-known/') ||
    url.startsWith('/healthz') ||
    url.startsWith('/readyz') ||
    url.startsWith('/metrics')
  )
}
