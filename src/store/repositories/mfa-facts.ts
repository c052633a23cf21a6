import type { Expression, ExpressionBuilder } from 'kysely'
import type { Db } from '../db.js'
import type { Database } from '../tables.js'
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

/** What second factors one user has, as counts (see `mfaCountSelections`). */
export interface MfaCounts {
  totp: number
  email: number
  sms: number
  backup: number
  passkeys: number
}

/**
 * The subqueries counting one user's second factors, each named `n_` and its `MfaCounts` key:
 * enabled TOTP secrets, email and SMS channels, unused backup codes, passkeys. `userId` is a
 * value, or a reference to the outer query's user id (the login read takes the counts along
 * with the account).
 */
export function mfaCountSelections(db: Db, userId: string | Expression<string>) {
  const count = (eb: ExpressionBuilder<Database, keyof Database>) =>
    eb.fn.countAll<number>().as('n')
  const channel = <C extends 'email' | 'sms'>(name: C) =>
    db
      .selectFrom('mfa_channels')
      .select(count)
      .where('user_id', '=', userId)
      .where('channel', '=', name)
      .as(`n_${name}`)
  return [
    db
      .selectFrom('totp_secrets')
      .select(count)
      .where('user_id', '=', userId)
      .where('enabled_at', 'is not', null)
      .as('n_totp'),
    channel('email'),
    channel('sms'),
    db
      .selectFrom('backup_codes')
      .select(count)
      .where('user_id', '=', userId)
      .where('used_at', 'is', null)
      .as('n_backup'),
    db
      .selectFrom('webauthn_credentials')
      .select(count)
      .where('user_id', '=', userId)
      .as('n_passkeys'),
  ] as const
}

/** The counts as selected (prefixed: they sit beside a user row's own columns). */
export type MfaCountsRow = { [K in keyof MfaCounts as `n_${K}`]: number | string | null }

/** Counts come back as numbers or numeric strings depending on the driver. */
export function mfaCountsOf(row: MfaCountsRow | undefined): MfaCounts {
  return {
    totp: Number(row?.n_totp ?? 0),
    email: Number(row?.n_email ?? 0),
    sms: Number(row?.n_sms ?? 0),
    backup: Number(row?.n_backup ?? 0),
    passkeys: Number(row?.n_passkeys ?? 0),
  }
}

/** One user's `MfaCounts` in one round trip. */
export function mfaFactsQuery(db: Db) {
  return precompiled(db, ['userId'], ({ userId }: { userId: string }) =>
    db.selectNoFrom(mfaCountSelections(db, userId)),
  )
}
