import { randomBytes, randomInt } from 'node:crypto'
import type { Random } from '../services/ports.js'

export const cryptoRandom: Random = {
  bytes(n) {
    return randomBytes(n)
  },
  digits(n) {
    if (!Number.isInteger(n) || n < 0)
      throw new RangeError('digits: n must be a non-negative integer')
    // randomInt draws by rejection sampling, so each digit is uniform (no modulo bias).
    let out = ''
    for (let i = 0; i < n; i++) out += String(randomInt(10))
    return out
  },
}

/** An opaque token (refresh token, API key secret): 32 bytes = 256 bits by default. */
export function randomToken(random: Random, bytes = 32): string {
  return random.bytes(bytes).toString('base64url')
}
