import { createHmac, hash as digestOnce, randomBytes, timingSafeEqual } from 'node:crypto'
import { availableParallelism } from 'node:os'
import * as argon2 from 'argon2'
import bcrypt from 'bcryptjs'
import { equalText } from './compare.js'
import { deriveKey, excessiveCost, parseDerivedHash } from './imported-hashes.js'

export interface PasswordHasherOptions {
  memoryKiB?: number
  timeCost?: number
  parallelism?: number
  /** How many argon2 computations run at once; the rest wait their turn (default: the cores). */
  concurrency?: number
  /** How many may wait for a turn before more are refused (default: 256 per running one). */
  maxWaiting?: number
}

/**
 * Why the hasher did not take a password: too many were waiting already (`busy`), or the one
 * that asked gave up while waiting (`abandoned`: its client hung up). Neither says anything
 * about the password, so a login refused this way counts as no attempt.
 */
export class HashingRefused extends Error {
  constructor(readonly reason: 'busy' | 'abandoned') {
    super(
      reason === 'busy'
        ? 'too many passwords are waiting to be hashed'
        : 'the request was abandoned while waiting to be hashed',
    )
  }
}

/** What the queue holds now and has refused: for the metrics. */
export interface QueueLoad {
  running: number
  waiting: number
  /** Tasks refused since start, by reason. */
  refused: Record<HashingRefused['reason'], number>
}

/**
 * Runs at most `limit` tasks at once, the others in arrival order. Each argon2id computation
 * holds its 19 MiB while it runs on libuv's pool (four threads by default), and on a machine
 * with fewer cores than that, the extra ones in flight add memory but no throughput: they
 * only share the same cores.
 *
 * Under a flood the waiting line is what grows, so it is bounded too (`maxWaiting`, past
 * which a task is refused at once), and a task whose `signal` fires while it waits leaves the
 * line: otherwise the cores would go on hashing for clients that timed out long ago, and
 * every answer would come too late for the one who asked.
 */
export function createWorkQueue(limit: number, maxWaiting = Number.POSITIVE_INFINITY) {
  let running = 0
  const waiting: (() => void)[] = []
  const refused = { busy: 0, abandoned: 0 }
  const refuse = (reason: HashingRefused['reason']) => {
    refused[reason]++
    return new HashingRefused(reason)
  }

  function waitForTurn(signal: AbortSignal | undefined): Promise<void> {
    if (waiting.length >= maxWaiting) return Promise.reject(refuse('busy'))
    return new Promise<void>((resolve, reject) => {
      const start = () => {
        signal?.removeEventListener('abort', leave)
        resolve()
      }
      const leave = () => {
        waiting.splice(waiting.indexOf(start), 1)
        reject(refuse('abandoned'))
      }
      signal?.addEventListener('abort', leave, { once: true })
      waiting.push(start)
    })
  }

  async function run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) throw refuse('abandoned')
    if (running >= limit) await waitForTurn(signal)
    else running++
    try {
      return await task()
    } finally {
      // The slot passes straight to the next waiter, so `running` never dips and a
      // newcomer cannot overtake it.
      const next = waiting.shift()
      if (next) next()
      else running--
    }
  }

  return {
    run,
    load: (): QueueLoad => ({ running, waiting: waiting.length, refused: { ...refused } }),
  }
}

export interface VerifyResult {
  ok: boolean
  /** The password was right but the hash is not argon2id with the current parameters. */
  needsRehash: boolean
}

/**
 * Every method may throw `HashingRefused` instead of hashing; `signal` is the asker's "I am
 * gone" (see createWorkQueue).
 */
export interface PasswordHasher {
  hash(pw: string, signal?: AbortSignal): Promise<string>
  verify(hash: string, pw: string, signal?: AbortSignal): Promise<VerifyResult>
  /** Spends the time of one real verification, so unknown users answer as slowly as known ones. */
  verifyDummy(pw: string, signal?: AbortSignal): Promise<void>
  /** Hashes running and waiting now, and those refused so far: for the metrics. */
  load(): QueueLoad
}

/** PHC strings use standard base64 without padding. */
function phcBase64(b: Buffer): string {
  return b.toString('base64').replace(/=+$/, '')
}

const FAILED: VerifyResult = { ok: false, needsRehash: false }

/**
 * NIST SP 800-63B §5.1.1.2: a Unicode password is normalised (NFKC) before it is hashed, so the
 * same password typed as a composed "é" on one keyboard and as "e" plus a combining accent on
 * another (or with a no-break space, or full-width letters) is one password, not two.
 */
export function normalizePassword(pw: string): string {
  return pw.normalize('NFKC')
}

interface Scheme {
  readonly prefixes: readonly string[]
  verify(hash: string, pw: string, signal?: AbortSignal): Promise<VerifyResult>
}

/** Argon2id at SPEC §4.5's defaults (OWASP's minimum: 19 MiB, 2 passes, 1 lane). */
export function createPasswordHasher(opts: PasswordHasherOptions = {}): PasswordHasher {
  const params = {
    memoryCost: opts.memoryKiB ?? 19456,
    timeCost: opts.timeCost ?? 2,
    parallelism: opts.parallelism ?? 1,
  }
  const concurrency = Math.max(1, opts.concurrency ?? availableParallelism())
  const { run: queue, load } = createWorkQueue(concurrency, opts.maxWaiting ?? 256 * concurrency)

  async function hash(pw: string, signal?: AbortSignal): Promise<string> {
    const salt = randomBytes(16)
    const normalized = normalizePassword(pw)
    const digest = await queue(
      () => argon2.hash(normalized, { type: argon2.argon2id, ...params, salt, raw: true }),
      signal,
    )
    // Serialised here because argon2 0.45 writes `m=…,p=…,t=…` (ranisalt/node-argon2#559), and
    // libargon2 (PHP, Python, Go ports) only parses the PHC order `m=…,t=…,p=…`; keeping the
    // standard order keeps the hashes portable if users are ever exported.
    const { memoryCost: m, timeCost: t, parallelism: p } = params
    return `$argon2id$v=19$m=${m},t=${t},p=${p}$${phcBase64(salt)}$${phcBase64(digest)}`
  }

  // Picked by prefix, as ory/kratos' hash_comparator does, so imported hashes keep working
  // until the next successful login rehashes them.
  const schemes: readonly Scheme[] = [
    {
      prefixes: ['$argon2id$', '$argon2i$', '$argon2d$'],
      async verify(stored, pw, signal) {
        if (!(await queue(() => argon2.verify(stored, pw), signal))) return FAILED
        // argon2's needsRehash compares parameters only, so the variant is checked here.
        const stale = !stored.startsWith('$argon2id$') || argon2.needsRehash(stored, params)
        return { ok: true, needsRehash: stale }
      },
    },
    {
      prefixes: ['$2a$', '$2b$', '$2y$'],
      async verify(stored, pw, signal) {
        // $2y$ is PHP's name for the fixed $2b$ algorithm; swapping keeps us independent of
        // whether the bcrypt library knows the alias.
        const normalised = stored.startsWith('$2y$') ? `$2b$${stored.slice(4)}` : stored
        // bcryptjs computes on the main thread (in slices, so requests still interleave);
        // through the same line as argon2, guesses at imported accounts cannot take more
        // cores than logins may, and a flood of them meets the same bound.
        if (!(await queue(() => bcrypt.compare(pw, normalised), signal))) return FAILED
        return { ok: true, needsRehash: true }
      },
    },
    {
      // Werkzeug's, passlib's and Django's PBKDF2 and scrypt (imported-hashes.ts).
      prefixes: ['pbkdf2:', 'scrypt:', '$pbkdf2$', '$pbkdf2-', 'pbkdf2_'],
      async verify(stored, pw, signal) {
        const parsed = parseDerivedHash(stored)
        if (parsed === undefined) return FAILED
        const key = await queue(() => deriveKey(parsed, pw), signal)
        if (!timingSafeEqual(key, parsed.key)) return FAILED
        return { ok: true, needsRehash: true }
      },
    },
  ]

  async function attempt(
    scheme: Scheme,
    stored: string,
    pw: string,
    signal?: AbortSignal,
  ): Promise<VerifyResult> {
    try {
      return await scheme.verify(stored, pw, signal)
    } catch (err) {
      if (err instanceof HashingRefused) throw err
      // A corrupt hash is a failed login, never a 500 that tells the caller the account exists.
      return FAILED
    }
  }

  async function verify(stored: string, pw: string, signal?: AbortSignal): Promise<VerifyResult> {
    const scheme = schemes.find((s) => s.prefixes.some((p) => stored.startsWith(p)))
    // A hash whose cost no login may spend (imported before the import refused it): failed,
    // like a corrupt one, without computing it.
    if (scheme === undefined || excessiveCost(stored) !== undefined) return FAILED
    const normalized = normalizePassword(pw)
    const result = await attempt(scheme, stored, normalized, signal)
    if (result.ok || normalized === pw) return result
    // A hash of the password exactly as typed: made before passwords were normalised here, or
    // imported from a service that never normalised them. Still accepted, and rehashed in the
    // normalised form so the next login needs one verification again.
    const asTyped = await attempt(scheme, stored, pw, signal)
    return asTyped.ok ? { ok: true, needsRehash: true } : FAILED
  }

  let dummy: Promise<string> | undefined
  async function verifyDummy(pw: string, signal?: AbortSignal): Promise<void> {
    dummy ??= hash(randomBytes(32).toString('base64url'))
    try {
      const stored = await dummy.catch((err: unknown) => {
        dummy = undefined // let the next call retry instead of caching a failure forever
        throw err
      })
      await queue(() => argon2.verify(stored, pw), signal)
      // A password that normalisation changes costs a known user a second verification (the
      // as-typed fallback above): an unknown user's answer takes as long.
      if (normalizePassword(pw) !== pw) await queue(() => argon2.verify(stored, pw), signal)
    } catch (err) {
      // Refused like a real verification would have been; any other failure only costs the
      // unknown user's answer its delay.
      if (err instanceof HashingRefused) throw err
    }
  }

  return { hash, verify, verifyDummy, load }
}

/** For refresh tokens and API keys: they carry ≥ 256 random bits, so no salt or stretching is needed. */
export function sha256Hex(s: string | Buffer): string {
  return digestOnce('sha256', s, 'hex')
}

export interface CodeHasher {
  hash(code: string, context: string): string
}

/**
 * For short codes (6 digits, backup codes): a bare hash of a million possibilities reverses in
 * milliseconds, so the hash is keyed. The context (purpose, user, channel) keeps an equal code
 * for another purpose from matching.
 */
export function createCodeHasher(key: Buffer): CodeHasher {
  if (key.length < 16) throw new Error('code hasher: key must be at least 16 bytes')
  return {
    hash(code, context) {
      // The length prefix makes (context, code) → input injective: ('a', 'bc') ≠ ('ab', 'c').
      return createHmac('sha256', key)
        .update(`${Buffer.byteLength(context, 'utf8')}:${context}`, 'utf8')
        .update(code, 'utf8')
        .digest('hex')
    },
  }
}

const HEX = /^[0-9a-f]+$/i

/** Constant-time comparison of two hex digests; lengths are not secret, contents are. */
export function timingSafeEqualHex(a: string, b: string): boolean {
  // Buffer.from(x, 'hex') turns invalid hex into an empty buffer, which would compare equal.
  if (a.length !== b.length || !HEX.test(a) || !HEX.test(b)) return false
  return equalText(a.toLowerCase(), b.toLowerCase())
}

/** Short-code hashes under a key that may have had predecessors (see createCodeHashes). */
export interface CodeHashes {
  /** The hash to store: under the current code-hash key. */
  hash(code: string, context: string): Promise<string>
  /** Every hash the code may have been stored under, the current key's first. */
  candidates(code: string, context: string): Promise<string[]>
}

/**
 * A code stored under an earlier key must still match after that key was replaced (a code
 * cannot be re-hashed without the code), so verification tries every key `keys()` lists,
 * the current one first.
 */
export function createCodeHashes(keys: () => Promise<readonly Buffer[]>): CodeHashes {
  const hashers = new Map<string, CodeHasher>()
  const hasherFor = (key: Buffer) => {
    const id = key.toString('hex')
    let hasher = hashers.get(id)
    if (!hasher) hashers.set(id, (hasher = createCodeHasher(key)))
    return hasher
  }
  return {
    async hash(code, context) {
      const [current] = await keys()
      if (!current) throw new Error('code hashes: no key')
      return hasherFor(current).hash(code, context)
    },
    async candidates(code, context) {
      return [...new Set((await keys()).map((key) => hasherFor(key).hash(code, context)))]
    },
  }
}
