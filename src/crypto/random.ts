import { randomFillSync, randomInt } from 'node:crypto'
import type { Random } from '../services/ports.js'

/** Bytes drawn from the OS generator in one call and handed out in order. */
const POOL_SIZE = 4096
/** Larger requests bypass the pool: they would drain it at once. */
const POOL_MAX_REQUEST = 256

/**
 * Random bytes from a pool refilled with one `randomFillSync` per 4 KiB, as Node's own
 * `randomUUID` caches its entropy: a login draws five small values (ids, a token secret),
 * and `randomBytes` paid its argument checks and a call into OpenSSL, about 20 µs, for each.
 * Every byte is handed out once, as a copy, so no caller's buffer aliases the pool or another
 * caller's bytes.
 */
export function pooledRandomBytes(poolSize = POOL_SIZE): (n: number) => Buffer {
  const pool = Buffer.alloc(poolSize)
  let used = poolSize
  return (n) => {
    if (!Number.isInteger(n) || n < 0)
      throw new RangeError('bytes: n must be a non-negative integer')
    if (n > POOL_MAX_REQUEST || n > poolSize) return randomFillSync(Buffer.allocUnsafe(n))
    if (used + n > poolSize) {
      randomFillSync(pool)
      used = 0
    }
    const out = Buffer.allocUnsafe(n)
    pool.copy(out, 0, used, used + n)
    // Spent bytes are wiped, so the pool never holds a value a caller was given.
    pool.fill(0, used, used + n)
    used += n
    return out
  }
}

export const cryptoRandom: Random = {
  bytes: pooledRandomBytes(),
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
