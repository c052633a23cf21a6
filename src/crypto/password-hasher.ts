import { randomBytes, timingSafeEqual } from 'node:crypto'
import { availableParallelism } from 'node:os'
import * as argon2 from 'argon2'
import bcrypt from 'bcryptjs'
import { deriveKey, excessiveCost, parseDerivedHash } from './imported-hashes.js'
import { createWorkQueue, HashingRefused, type QueueLoad } from './work-queue.js'

export interface PasswordHasherOptions {
  memoryKiB?: number
  timeCost?: number
  parallelism?: number
  /** How many argon2 computations run at once; the rest wait their turn (default: the cores). */
  concurrency?: number
  /** How many may wait for a turn before more are refused (default: 256 per running one). */
  maxWaiting?: number
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
