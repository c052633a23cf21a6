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
