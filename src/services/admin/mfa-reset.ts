import type { AuditEntry } from '../audit/audit-log.js'

/**
 * Removes every second factor of a user: TOTP, passkeys, email/SMS factors and backup codes,
 * with `audited` written in the same transaction. The MFA services own those tables and
 * provide the implementation; the admin API and CLI only call it.
 */
export type MfaReset = (userId: string, audited: AuditEntry) => Promise<void>
