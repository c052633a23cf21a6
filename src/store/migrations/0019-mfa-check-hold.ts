import type { Kysely } from 'kysely'

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations work on Kysely<any> */
/**
 * An `mfa_token` is held while one request checks a code against it (until this time, ms),
 * so a second request for the same token waits for that check instead of spending its own
 * code on a token the first one is about to spend (services/mfa/mfa-tokens.ts).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('mfa_tokens').addColumn('checking_until', 'bigint').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('mfa_tokens').dropColumn('checking_until').execute()
}
