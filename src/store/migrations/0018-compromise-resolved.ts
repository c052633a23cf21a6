import type { Kysely } from 'kysely'

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations work on Kysely<any> */
/**
 * When the password reset that answered a "this wasn't me" report happened. A notice waiting
 * in the outbox at that moment (an SMTP outage can hold it for hours) gets its link only when
 * it is finally sent; a link for an event before the reset would undo the owner's recovery,
 * so it is refused (store/repositories/notifications.ts, spendNotMeToken).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').addColumn('compromise_resolved_at', 'bigint').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').dropColumn('compromise_resolved_at').execute()
}
