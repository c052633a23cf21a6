import type { Db } from '../db.js'

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
