/**
 * Removes every second factor of a user: TOTP, passkeys, email/SMS factors and backup codes.
 * The MFA services own those tables and provide the implementation; the admin API and CLI
 * only call it.
 */
export type MfaReset = (userId: string) => Promise<void>
