import { timingSafeEqual } from 'node:crypto'

/** Compares two strings without leaking where they differ (hashes of equal length). */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}
