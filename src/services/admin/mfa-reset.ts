/**
 * Removes every second factor of a user: TOTP, passkeys, email/SMS factors and backup codes.
 * The MFA services own those tables and provide the implementation; the admin API and CLI
 * only call it.
 */
export type MfaReset = (userId: string) => Promise<void>

/**
 * LEAD: placeholder until the second-factor tables (issue 4) are merged — wire their removal
 * into `mfaReset` in container.ts. Without them a user has no second factor to remove.
 */
export const nothingToReset: MfaReset = () => Promise.resolve()
