import { timingSafeEqual } from 'node:crypto'

/**
 * Compares two strings without leaking where they differ: for secrets a caller presents
 * against what we computed (a client secret's hash, a cursor's tag). Lengths are not secret.
 */
export function equalText(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

const HEX = /^[0-9a-f]+$/i

/** Constant-time comparison of two hex digests; lengths are not secret, contents are. */
export function timingSafeEqualHex(a: string, b: string): boolean {
  // Buffer.from(x, 'hex') turns invalid hex into an empty buffer, which would compare equal.
  if (a.length !== b.length || !HEX.test(a) || !HEX.test(b)) return false
  return equalText(a.toLowerCase(), b.toLowerCase())
}
