import { MysqlAdapter } from 'kysely'
import type { Db } from '../db.js'

export type Channel = 'email' | 'sms'

/**
 * Turns email or SMS codes on as a second factor; already on is fine. No unique-violation
 * catch: on PostgreSQL a failed statement would abort the caller's transaction.
 */
export async function enableChannel(
  db: Db,
  userId: string,
  channel: Channel,
  now: number,
): Promise<void> {
  const insert = db.insertInto('mfa_channels').values({ user_id: userId, channel, created_at: now })
  if (db.getExecutor().adapter instanceof MysqlAdapter) await insert.ignore().execute()
  else await insert.onConflict((oc) => oc.doNothing()).execute()
}

export async function deleteChannels(db: Db, userId: string): Promise<void> {
  await db.deleteFrom('mfa_channels').where('user_id', '=', userId).execute()
}

/** Turns off the channels turned on at or after `sinceMs`; returns which. */
export async function deleteChannelsAddedSince(
  db: Db,
  userId: string,
  sinceMs: number,
): Promise<Channel[]> {
  const rows = await db
    .selectFrom('mfa_channels')
    .select('channel')
    .where('user_id', '=', userId)
    .where('created_at', '>=', sinceMs)
    .execute()
  const channels = rows.map((r) => r.channel)
  if (channels.length > 0)
    await db
      .deleteFrom('mfa_channels')
      .where('user_id', '=', userId)
      .where('channel', 'in', channels)
      .execute()
  return channels
}
