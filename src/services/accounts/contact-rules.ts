/**
 * What counts as an email address or a phone number, in one place for every way in: the API's
 * schemas (http/schemas/common.ts registers `isEmailAddress` as the `email` format and takes
 * `E164` as the phone pattern), `accounts.create` (registration, `gatehouse user create`) and
 * `gatehouse user import`. Three copies of these rules once drifted apart, so that the CLI
 * stored addresses the API refuses.
 */

// RFC 5322 §3.2.3 dot-atom (ASCII atext, no quoted local part) @ RFC 1035 §2.3.1 host names
// with at least one dot: what the API has always accepted (ajv-formats' full `email`), so
// no address registered through it is refused now. No IP literals, no bare host names.
const ATEXT = "[a-z0-9!#$%&'*+/=?^_`{|}~-]"
const LABEL = '[a-z0-9](?:[a-z0-9-]*[a-z0-9])?'
const EMAIL = new RegExp(`^${ATEXT}+(?:\\.${ATEXT}+)*@(?:${LABEL}\\.)+${LABEL}$`, 'i')

/** RFC 5321 §4.5.3.1.3: a path holds at most 256 octets, so an address at most 254. */
export const EMAIL_MAX_LENGTH = 254

/** E.164: a plus and up to 15 digits, the first not 0. */
export const E164 = /^\+[1-9][0-9]{6,14}$/

/**
 * Whitespace around an email address or phone number is no part of it: a copy-paste into a
 * form, or a padded column of a CSV or JSON export. Every way in trims it before the rules
 * below (the API's register before its schema, accounts.create, user import), so a padded
 * address is stored, and compared, the same whichever way it came; whitespace inside one is
 * still refused. The import once trimmed it while the API refused it.
 */
export function trimContact(value: string): string {
  return value.trim()
}

export function isEmailAddress(value: string): boolean {
  // The length first: it also bounds the work of the pattern.
  return value.length <= EMAIL_MAX_LENGTH && EMAIL.test(value)
}

export function isPhoneNumber(value: string): boolean {
  return E164.test(value)
}
