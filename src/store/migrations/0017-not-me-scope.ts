import type { Kysely } from 'kysely'

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations work on Kysely<any> */
/**
 * A "this wasn't me" link now remembers what its notice was about: when the event happened,
 * and the passkey it reports as added, if any. Following the link removes the second factors
 * added since then (services/notifications/not-me.ts). Links sent before this have neither and
 * remove none, as before.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('not_me_tokens').addColumn('event_at', 'bigint').execute()
  await db.schema.alterTable('not_me_tokens').addColumn('passkey_id', 'varchar(32)').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('not_me_tokens').dropColumn('passkey_id').execute()
  await db.schema.alterTable('not_me_tokens').dropColumn('event_at').execute()
}
