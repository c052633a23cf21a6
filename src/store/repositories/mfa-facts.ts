import type { Db } from '../db.js'
import { precompiled } from '../precompiled.js'

export interface MfaFacts {
  totp: boolean
  channels: ('email' | 'sms')[]
  backupCodesRemaining: number
  passkeys: number
}

/** What second factors many users have, in four queries whatever the number of users. */
export async function mfaFactsOfUsers(
  db: Db,
  userIds: readonly string[],
): Promise<Map<string, MfaFacts>> {
  const facts = new Map<string, MfaFacts>(
    userIds.map((id) => [id, { totp: false, channels: [], backupCodesRemaining: 0, passkeys: 0 }]),
  )
  if (userIds.length === 0) return facts
  const [totp, channels, backup, passkeys] = await Promise.all([
    db
      .selectFrom('totp_secrets')
      .select('user_id')
      .where('user_id', 'in', userIds)
      .where('enabled_at', 'is not', null)
      .execute(),
    db
      .selectFrom('mfa_channels')
      .select(['user_id', 'channel'])
      .where('user_id', 'in', userIds)
      .execute(),
    db
      .selectFrom('backup_codes')
      .select((eb) => ['user_id', eb.fn.countAll<number>().as('n')])
      .where('user_id', 'in', userIds)
      .where('used_at', 'is', null)
      .groupBy('user_id')
      .execute(),
    db
      .selectFrom('webauthn_credentials')
      .select((eb) => ['user_id', eb.fn.countAll<number>().as('n')])
      .where('user_id', 'in', userIds)
      .groupBy('user_id')
      .execute(),
  ])
  for (const r of totp) facts.get(r.user_id)!.totp = true
  for (const r of channels) facts.get(r.user_id)!.channels.push(r.channel)
  for (const r of backup) facts.get(r.user_id)!.backupCodesRemaining = Number(r.n)
  for (const r of passkeys) facts.get(r.user_id)!.passkeys = Number(r.n)
  return facts
}

/**
 * What second factors one user has, as counts, in one round trip: `totp` (enabled secrets),
 * `email` and `sms` (channels), `backup` (unused codes), `passkeys`. Counts come back as
 * numbers or numeric strings depending on the driver.
 */
export function mfaFactsQuery(db: Db) {
  return precompiled(db, ['userId'], ({ userId }: { userId: string }) =>
    db.selectNoFrom((eb) => [
      eb
        .selectFrom('totp_secrets')
        .select(eb.fn.countAll<number>().as('n'))
        .where('user_id', '=', userId)
        .where('enabled_at', 'is not', null)
        .as('totp'),
      eb
        .selectFrom('mfa_channels')
        .select(eb.fn.countAll<number>().as('n'))
        .where('user_id', '=', userId)
        .where('channel', '=', 'email')
        .as('email'),
      eb
        .selectFrom('mfa_channels')
        .select(eb.fn.countAll<number>().as('n'))
        .where('user_id', '=', userId)
        .where('channel', '=', 'sms')
        .as('sms'),
      eb
        .selectFrom('backup_codes')
        .select(eb.fn.countAll<number>().as('n'))
        .where('user_id', '=', userId)
        .where('used_at', 'is', null)
        .as('backup'),
      eb
        .selectFrom('webauthn_credentials')
        .select(eb.fn.countAll<number>().as('n'))
        .where('user_id', '=', userId)
        .as('passkeys'),
    ]),
  )
}
