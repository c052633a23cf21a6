import { createRequire } from 'node:module'

// zxcvbn's frequency-ranked list of leaked passwords (~49k), already lower-case; lower-casing
// again keeps the check case-insensitive even if a later version of the list is not.
let common: Set<string> | undefined

function list(): Set<string> {
  // Built on first use, so processes that never check a password (CLI, migrations, an
  // instance that only logs people in) skip it. Only the password list is loaded: the
  // package's index also loads its other word lists (names, common and Wikipedia words),
  // about 2 MiB of heap this check never reads.
  common ??= new Set(
    (
      createRequire(import.meta.url)(
        '@zxcvbn-ts/language-common/dist/passwords.json.js',
      ) as string[]
    ).map((p) => p.toLowerCase()),
  )
  return common
}

export function isCommonPassword(pw: string): boolean {
  return list().has(pw.toLowerCase())
}

export function commonPasswordCount(): number {
  return list().size
}
