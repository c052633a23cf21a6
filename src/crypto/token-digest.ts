import { hash as digestOnce } from 'node:crypto'

/** For refresh tokens and API keys: they carry ≥ 256 random bits, so no salt or stretching is needed. */
export function sha256Hex(s: string | Buffer): string {
  return digestOnce('sha256', s, 'hex')
}
