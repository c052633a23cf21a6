/** How a username or email, as typed, is compared with the stored ones (SPEC §4.1). */
export const normalizeIdentifier = (s: string) => s.normalize('NFC').toLowerCase()

// Identifiers that can name no account never reach the database: NUL would make
// PostgreSQL fail the query, and huge strings only cost work.
const LOOKUP_SAFE = /^[^\u0000-\u001f\u007f]{1,255}$/ // eslint-disable-line no-control-regex

/** Whether an identifier may be looked up at all; one that may not names no account. */
export const isLookupSafe = (identifier: string): boolean => LOOKUP_SAFE.test(identifier)
