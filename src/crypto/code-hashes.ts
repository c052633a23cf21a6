import { createHmac } from 'node:crypto'

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
