import { isIP } from 'node:net'
import { InvalidValue } from './errors.js'

/*
 * Small pure parsers for environment strings. Each returns the parsed value or throws
 * InvalidValue; the loader attaches the variable's name and rule. Callers pass trimmed input.
 */

export function parseInteger(s: string, range: { min: number; max?: number }): number {
  // Digits only: Number() would also accept '', '0x10', '1e3' and ' 7 '.
  if (!/^\d+$/.test(s)) throw new InvalidValue(`not a whole number: ${JSON.stringify(s)}`)
  const n = Number(s)
  const max = range.max ?? Number.MAX_SAFE_INTEGER
  if (!Number.isSafeInteger(n) || n < range.min || n > max) {
    throw new InvalidValue(`out of range ${range.min}–${max}: ${s}`)
  }
  return n
}

export function parseBoolean(s: string): boolean {
  const lower = s.toLowerCase()
  if (lower === 'true' || lower === '1') return true
  if (lower === 'false' || lower === '0') return false
  throw new InvalidValue(`not true or false: ${JSON.stringify(s)}`)
}

/** Comma-separated items, trimmed; empty items are dropped, so '' is the empty list. */
export function parseList(s: string): string[] {
  return s
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '')
}

function parseUrl(s: string): URL {
  // The WHATWG URL parser would otherwise accept 'http:example.com' and inner spaces.
  if (/\s/.test(s)) throw new InvalidValue(`not a URL: ${JSON.stringify(s)}`)
  try {
    return new URL(s)
  } catch {
    throw new InvalidValue(`not a URL: ${JSON.stringify(s)}`)
  }
}

function isHttp(url: URL): boolean {
  return url.protocol === 'http:' || url.protocol === 'https:'
}

/**
 * An http(s) base URL without credentials, query or fragment, normalised (lower-case host,
 * default port dropped) and without a trailing slash, so it can serve as a token issuer.
 */
export function parseHttpUrl(s: string): string {
  const url = parseUrl(s)
  if (
    !isHttp(url) ||
    url.username !== '' ||
    url.password !== '' ||
    url.search !== '' ||
    url.hash !== '' ||
    !/^https?:\/\//i.test(s)
  ) {
    throw new InvalidValue(`not an http(s) URL: ${JSON.stringify(s)}`)
  }
  return url.href.replace(/\/+$/, '')
}

/** PUBLIC_URL: an http(s) URL (parseHttpUrl's rules) that is an origin, a trailing slash allowed. */
export function parsePublicOrigin(s: string): string {
  const url = parseHttpUrl(s)
  if (new URL(url).pathname !== '/') {
    throw new InvalidValue(`has a path: ${JSON.stringify(s)}`)
  }
  return url
}

/** A browser origin: scheme, host and optional port, nothing else (what CORS and WebAuthn compare). */
export function parseOrigin(s: string): string {
  const url = parseUrl(s)
  if (!isHttp(url) || url.origin + '/' !== url.href || !/^https?:\/\/[^/]+\/?$/i.test(s)) {
    throw new InvalidValue(`not an origin such as https://app.example.com: ${JSON.stringify(s)}`)
  }
  return url.origin
}

export function parseOrigins(s: string): string[] {
  return [...new Set(parseList(s).map(parseOrigin))]
}

/** A URL whose scheme is one of `schemes` (e.g. 'redis:'), returned as written. */
export function parseUrlWithScheme(s: string, schemes: readonly string[]): string {
  const url = parseUrl(s)
  if (!schemes.includes(url.protocol) || !s.toLowerCase().startsWith(`${url.protocol}//`)) {
    throw new InvalidValue(`not a ${schemes.join(' or ')} URL`)
  }
  return s
}

export function parseDatabaseUrl(s: string): string {
  if (/^sqlite:./.test(s)) return s
  return parseUrlWithScheme(s, ['postgres:', 'postgresql:', 'mysql:'])
}

export function parseRedisUrl(s: string): string {
  const url = new URL(parseUrlWithScheme(s, ['redis:', 'rediss:']))
  // The path may only name a database number (redis://host:6379/2).
  if (!/^\/?(\d+)?$/.test(url.pathname)) throw new InvalidValue('Redis database must be a number')
  return s
}

/** Bytes of a 32-byte key written as 64 hex digits or as base64 (standard or URL-safe alphabet). */
export function parseSecretKey(s: string): Buffer {
  // Hex first: 64 hex digits are also valid base64 (of 48 bytes).
  const key =
    /^[0-9a-fA-F]+$/.test(s) && s.length % 2 === 0
      ? Buffer.from(s, 'hex')
      : /^[A-Za-z0-9+/_-]+={0,2}$/.test(s)
        ? Buffer.from(s, 'base64')
        : undefined
  // Never echo the value: it is the key.
  if (key === undefined)
    throw new InvalidValue('not base64 or hex', 'a value that is neither base64 nor hex')
  if (key.length !== 32)
    throw new InvalidValue(`${key.length} bytes, not 32`, `${key.length} bytes`)
  return key
}

export function parseSecretKeys(s: string): Buffer[] {
  return parseList(s).map(parseSecretKey)
}

// proxy-addr (behind Fastify's trustProxy) also understands these names.
const proxyRangeNames = new Set(['loopback', 'linklocal', 'uniquelocal'])

function isAddressOrCidr(s: string): boolean {
  if (proxyRangeNames.has(s)) return true
  const [address = '', prefix, extra] = s.split('/')
  const family = isIP(address)
  if (family === 0 || extra !== undefined) return false
  if (prefix === undefined) return true
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128)
}

/**
 * `false`, `true` (trust every hop), a hop count, or trusted proxy addresses/CIDRs — the forms
 * Fastify's trustProxy takes. A hop count of 0 trusts nobody, which is `false`.
 */
export function parseTrustProxy(s: string): boolean | number | string[] {
  const lower = s.toLowerCase()
  if (lower === 'true' || lower === 'false') return parseBoolean(lower)
  if (/^\d+$/.test(s)) {
    const hops = parseInteger(s, { min: 0 })
    return hops === 0 ? false : hops
  }
  const ranges = parseList(s)
  const bad = ranges.find((r) => !isAddressOrCidr(r))
  if (ranges.length === 0 || bad !== undefined) {
    throw new InvalidValue(`not an address or CIDR: ${JSON.stringify(bad ?? s)}`)
  }
  return ranges
}

/** Plain text that is safe in a header or a log line: no control characters, bounded length. */
export function parseText(
  s: string,
  opts: { max: number; allowSpaces: boolean; forbid?: RegExp },
): string {
  // eslint-disable-next-line no-control-regex
  const control = /[\u0000-\u001f\u007f]/
  if (
    s === '' ||
    s.length > opts.max ||
    control.test(s) ||
    (!opts.allowSpaces && /\s/.test(s)) ||
    (opts.forbid?.test(s) ?? false)
  ) {
    throw new InvalidValue(`not acceptable text: ${JSON.stringify(s)}`)
  }
  return s
}

const hostnamePattern =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/

/** A bare DNS name (a WebAuthn relying-party id): no scheme, port or path. */
export function parseHostname(s: string): string {
  const lower = s.toLowerCase()
  if (!hostnamePattern.test(lower)) throw new InvalidValue(`not a host name: ${JSON.stringify(s)}`)
  return lower
}

const address = String.raw`[^\s<>@",;]+@[^\s<>@",;]+`
const mailboxPattern = new RegExp(`^(?:${address}|[^<>\\r\\n]*<${address}>)$`)

/** `addr@host` or `Display Name <addr@host>`; line breaks are refused (header injection). */
export function parseMailbox(s: string): string {
  if (/[\r\n]/.test(s) || !mailboxPattern.test(s)) {
    throw new InvalidValue(`not an email address: ${JSON.stringify(s)}`)
  }
  return s
}

/** `Name <local@host>`, quoting the name when it holds characters RFC 5322 reserves. */
export function formatMailbox(name: string, addr: string): string {
  const plain = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]+$/.test(name)
  const display = plain ? name : `"${name.replace(/(["\\])/g, '\\$1')}"`
  return `${display} <${addr}>`
}
