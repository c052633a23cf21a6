import { createRequire } from 'node:module'

/**
 * A fixed list of words, lower-cased, kept as one sorted newline-joined string and the
 * offsets of its words, searched by bisection. A Set of the ~49k leaked passwords below took
 * 3.6 MiB of heap (a table plus one string object per entry); this takes about 0.6 MiB.
 */
export function compactWordList(words: readonly string[]): {
  has(word: string): boolean
  size: number
} {
  const sorted = [...new Set(words.map((w) => w.toLowerCase()))].sort()
  const text = sorted.join('\n')
  const starts = new Uint32Array(sorted.length + 1)
  for (let i = 0, at = 0; i < sorted.length; i++) {
    starts[i] = at
    at += sorted[i]!.length + 1
  }
  starts[sorted.length] = text.length + 1
  const wordAt = (i: number) => text.slice(starts[i], starts[i + 1]! - 1)
  return {
    size: sorted.length,
    has(word) {
      const wanted = word.toLowerCase()
      let low = 0
      let high = sorted.length - 1
      while (low <= high) {
        const mid = (low + high) >>> 1
        const here = wordAt(mid)
        if (here === wanted) return true
        if (here < wanted) low = mid + 1
        else high = mid - 1
      }
      return false
    },
  }
}

let common: ReturnType<typeof compactWordList> | undefined

function list(): ReturnType<typeof compactWordList> {
  // Built on first use, so processes that never check a password (CLI, migrations, an
  // instance that only logs people in) skip it. Only zxcvbn's frequency-ranked list of leaked
  // passwords is loaded: the package's index also loads its other word lists (names, common
  // and Wikipedia words), about 2 MiB of heap this check never reads. The module is dropped
  // from require's cache once read, so its array of 49k strings is not kept beside ours.
  if (!common) {
    const require = createRequire(import.meta.url)
    const path = require.resolve('@zxcvbn-ts/language-common/dist/passwords.json.js')
    common = compactWordList(require(path) as string[])
    delete require.cache[path]
  }
  return common
}

export function isCommonPassword(pw: string): boolean {
  return list().has(pw)
}

export function commonPasswordCount(): number {
  return list().size
}
