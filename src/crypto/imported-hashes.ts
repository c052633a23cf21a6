import { pbkdf2, scrypt } from 'node:crypto'
import { promisify } from 'node:util'

/**
 * Password hashes written by the services `gatehouse user import` takes people from, as they
 * stored them, and the bounds on what one verification of them may cost.
 *
 * Python's own libraries write PBKDF2 and scrypt in formats of their own, which no Node
 * library reads (each is a few fields around `crypto.pbkdf2`/`crypto.scrypt`):
 * - Werkzeug (Flask): `pbkdf2:sha256:600000$salt$hex` and `scrypt:32768:8:1$salt$hex`, the
 *   salt used as its UTF-8 text, the key hex (scrypt's 64 bytes long);
 * - passlib: `$pbkdf2-sha256$29000$salt$key` (`$pbkdf2$` for SHA-1, `-sha512`), salt and key in
 *   its "adapted base64" (`.` for `+`, no padding);
 * - Django: `pbkdf2_sha256$600000$salt$key`, the salt as text, the key in base64.
 *
 * Every one of them names its own cost, and whoever wrote the row chose it: a hash asking for
 * 4 GiB of memory or a billion rounds would hold a hashing slot (or the process's memory)
 * for as long as it takes, at every login attempt on that account. So a cost above what any
 * of these libraries' users would pick is refused at import, and not computed at login.
 */

export const MAX_ARGON2_MEMORY_KIB = 2 * 1024 * 1024 // RFC 9106 §4's first choice, 2 GiB
const MAX_ARGON2_MEMORY_TIMES_PASSES = 4 * 1024 * 1024
const MAX_ARGON2_LANES = 16
const MAX_BCRYPT_COST = 16
const MAX_PBKDF2_ITERATIONS = 10_000_000
const MAX_SCRYPT_MEMORY_BYTES = 1024 ** 3
const MAX_SCRYPT_PARALLELISM = 16

type Digest = 'sha1' | 'sha256' | 'sha512'
const KEY_BYTES: Record<Digest, number> = { sha1: 20, sha256: 32, sha512: 64 }

export type DerivedHash =
  | { kind: 'pbkdf2'; digest: Digest; iterations: number; salt: Buffer; key: Buffer }
  | { kind: 'scrypt'; n: number; r: number; p: number; salt: Buffer; key: Buffer }

const WERKZEUG =
  /^(pbkdf2:(sha1|sha256|sha512):([1-9][0-9]{0,8})|scrypt:([0-9]{1,8}):([0-9]{1,3}):([0-9]{1,3}))\$([^$]{1,128})\$([0-9a-f]{40,128})$/
const PASSLIB =
  /^\$pbkdf2(?:-(sha256|sha512))?\$([1-9][0-9]{0,8})\$([./A-Za-z0-9]{1,128})\$([./A-Za-z0-9]{27,86})$/
const DJANGO =
  /^pbkdf2_(sha1|sha256)\$([1-9][0-9]{0,8})\$([^$]{1,128})\$([A-Za-z0-9+/]{27,86}={0,2})$/

const adaptedBase64 = (text: string) => Buffer.from(text.replaceAll('.', '+'), 'base64')

/** A PBKDF2 or scrypt hash in one of the formats above, or undefined. */
export function parseDerivedHash(stored: string): DerivedHash | undefined {
  let m = WERKZEUG.exec(stored)
  if (m) {
    const salt = Buffer.from(m[7]!, 'utf8')
    const key = Buffer.from(m[8]!, 'hex')
    if (m[2] !== undefined) {
      const digest = m[2] as Digest
      if (key.length !== KEY_BYTES[digest]) return undefined
      return { kind: 'pbkdf2', digest, iterations: Number(m[3]), salt, key }
    }
    if (key.length !== 64) return undefined
    return { kind: 'scrypt', n: Number(m[4]), r: Number(m[5]), p: Number(m[6]), salt, key }
  }
  m = PASSLIB.exec(stored)
  if (m) {
    const digest: Digest = (m[1] as Digest | undefined) ?? 'sha1'
    const key = adaptedBase64(m[4]!)
    if (key.length !== KEY_BYTES[digest]) return undefined
    return { kind: 'pbkdf2', digest, iterations: Number(m[2]), salt: adaptedBase64(m[3]!), key }
  }
  m = DJANGO.exec(stored)
  if (m) {
    const digest = m[1] as Digest
    const key = Buffer.from(m[4]!, 'base64')
    if (key.length !== KEY_BYTES[digest]) return undefined
    return { kind: 'pbkdf2', digest, iterations: Number(m[2]), salt: Buffer.from(m[3]!), key }
  }
  return undefined
}

const scryptMemory = (h: { n: number; r: number }) => 128 * h.n * h.r

/** Why computing `hash` once would cost more than any login may, or undefined when it may. */
export function excessiveCost(stored: string): string | undefined {
  const argon2 = /^\$argon2(?:id|i|d)\$(?:v=[0-9]+\$)?([^$]*)\$/.exec(stored)
  if (argon2) {
    const params = Object.fromEntries(
      argon2[1]!.split(',').map((kv) => kv.split('=') as [string, string]),
    )
    const [m, t, p] = [Number(params.m), Number(params.t), Number(params.p)]
    if (!(m <= MAX_ARGON2_MEMORY_KIB)) return `argon2 memory above ${MAX_ARGON2_MEMORY_KIB} KiB`
    if (!(m * t <= MAX_ARGON2_MEMORY_TIMES_PASSES)) return 'argon2 memory × passes above 4 GiB'
    if (!(p <= MAX_ARGON2_LANES)) return `argon2 parallelism above ${MAX_ARGON2_LANES}`
    return undefined
  }
  const bcrypt = /^\$2[aby]\$([0-9]{2})\$/.exec(stored)
  if (bcrypt)
    return Number(bcrypt[1]) > MAX_BCRYPT_COST ? `bcrypt cost above ${MAX_BCRYPT_COST}` : undefined
  const derived = parseDerivedHash(stored)
  if (derived?.kind === 'pbkdf2' && derived.iterations > MAX_PBKDF2_ITERATIONS)
    return `PBKDF2 iterations above ${MAX_PBKDF2_ITERATIONS}`
  if (derived?.kind === 'scrypt') {
    const { n, r, p } = derived
    if (n < 2 || (n & (n - 1)) !== 0 || r < 1 || p < 1) return 'scrypt parameters are not valid'
    if (scryptMemory(derived) > MAX_SCRYPT_MEMORY_BYTES) return 'scrypt memory above 1 GiB'
    if (p > MAX_SCRYPT_PARALLELISM) return `scrypt parallelism above ${MAX_SCRYPT_PARALLELISM}`
  }
  return undefined
}

const pbkdf2Async = promisify(pbkdf2)
const scryptAsync = promisify(scrypt) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>

/** The key `password` derives under `hash`'s parameters (on libuv's pool, like argon2). */
export function deriveKey(hash: DerivedHash, password: string): Promise<Buffer> {
  if (hash.kind === 'pbkdf2')
    return pbkdf2Async(password, hash.salt, hash.iterations, hash.key.length, hash.digest)
  return scryptAsync(password, hash.salt, hash.key.length, {
    N: hash.n,
    r: hash.r,
    p: hash.p,
    // OpenSSL's own need, 128·r·(N + p + 2) bytes, and room for its bookkeeping.
    maxmem: 128 * hash.r * (hash.n + hash.p + 2) + 1024 * 1024,
  })
}
