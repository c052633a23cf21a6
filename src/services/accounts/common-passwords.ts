import { dictionary } from '@zxcvbn-ts/language-common'

// zxcvbn's frequency-ranked list of leaked passwords (~49k), already lower-case; lower-casing
// again keeps the check case-insensitive even if a later version of the list is not.
let common: Set<string> | undefined

function list(): Set<string> {
  // Built on first use, so processes that never check a password (CLI, migrations) skip it.
  common ??= new Set(dictionary.passwords.map((p) => p.toLowerCase()))
  return common
}

export function isCommonPassword(pw: string): boolean {
  return list().has(pw.toLowerCase())
}

export function commonPasswordCount(): number {
  return list().size
}
