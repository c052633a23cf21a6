import { normalizePassword } from '../../crypto/password-hasher.js'
import { isCommonPassword } from './common-passwords.js'

export type PolicyResult = { ok: true } | { ok: false; reason: string }

/**
 * Above SPEC's "at least 128 characters" so passphrases fit, yet bounded so nobody makes
 * the password hasher chew megabytes.
 */
export const PASSWORD_MAX_LENGTH = 1024

const USERNAME = /^[A-Za-z0-9._-]+$/

/**
 * NIST SP 800-63B §5.1.1.2: a length floor, a blocklist, and no composition rules (they push
 * people to `Password1!`, not to stronger passwords). Reasons go to the client as `detail`.
 */
export function checkPassword(
  password: string,
  opts: { minLength: number; username?: string },
): PolicyResult {
  if (password.includes('\0')) {
    // C-based hashers and some drivers stop at NUL, which would silently shorten the password.
    return { ok: false, reason: 'password must not contain NUL characters' }
  }
  // The rules judge what is hashed: the normalised password (password-hasher.ts).
  const normalized = normalizePassword(password)
  // Code points, not UTF-16 units, so an emoji counts as one character as users expect.
  const length = [...normalized].length
  if (length < opts.minLength) {
    return { ok: false, reason: `password must be at least ${opts.minLength} characters` }
  }
  if (length > PASSWORD_MAX_LENGTH) {
    return { ok: false, reason: `password must be at most ${PASSWORD_MAX_LENGTH} characters` }
  }
  // What a guesser would try first: the password without its spaces and invisible
  // characters (zero-width, direction marks), so " password1234 " is as common as
  // "password1234", and twelve spaces are nothing to guess. (One character repeated stays
  // accepted: SPEC §2 promises passwords up to 128 characters, and 'a' × 128 is how a
  // client checks that promise.)
  const core = normalized.replace(/[\p{Z}\p{Cf}\s]/gu, '').toLowerCase()
  if (opts.username !== undefined && core === opts.username.toLowerCase()) {
    return { ok: false, reason: 'password must not equal the username' }
  }
  if (core === '' || isCommonPassword(normalized) || isCommonPassword(core)) {
    return { ok: false, reason: 'password is too common' }
  }
  return { ok: true }
}

/** SPEC §3: 3–64 characters of A–Z a–z 0–9 . _ - (uniqueness is the store's job). */
export function checkUsername(u: string): PolicyResult {
  if (u.length < 3 || u.length > 64) {
    return { ok: false, reason: 'username must be 3 to 64 characters' }
  }
  if (!USERNAME.test(u)) {
    return {
      ok: false,
      reason: 'username may contain only letters A-Z, digits and the characters . _ -',
    }
  }
  return { ok: true }
}
