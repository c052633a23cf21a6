import { sql } from 'kysely'
import type { Db } from '../db.js'

/**
 * One row per user with 0/1 flags for each second factor and the backup codes left: the
 * derived table every posture query aggregates over. `case … then 1 else 0` rather than a boolean, so sums work on all three.
 */
const factorFlags = sql`(
  select u.id as user_id,
    case when exists (select 1 from totp_secrets t
      where t.user_id = u.id and t.enabled_at is not null) then 1 else 0 end as totp,
    case when exists (select 1 from mfa_channels c
      where c.user_id = u.id and c.channel = 'email') then 1 else 0 end as email,
    case when exists (select 1 from mfa_channels c
      where c.user_id = u.id and c.channel = 'sms') then 1 else 0 end as sms,
    case when exists (select 1 from webauthn_credentials w
      where w.user_id = u.id) then 1 else 0 end as webauthn,
    (select count(*) from backup_codes b
      where b.user_id = u.id and b.used_at is null) as backup_left,
    case when exists (select 1 from backup_codes b
      where b.user_id = u.id) then 1 else 0 end as has_backup
  from users u
)`

const noFactor = sql`f.totp = 0 and f.email = 0 and f.sms = 0 and f.webauthn = 0`

const n = (value: unknown) => Number(value ?? 0)

export async function countUsersByRole(db: Db): Promise<Map<string, number>> {
  const { rows } = await sql<{ role: string; n: unknown }>`
    select r.role_name as role, count(*) as n from user_roles r group by r.role_name
  `.execute(db)
  return new Map(rows.map((r) => [r.role, n(r.n)]))
}

export async function countUsersWithFactor(db: Db): Promise<Record<string, number>> {
  const { rows } = await sql<Record<string, unknown>>`
    select sum(f.totp) as totp, sum(f.webauthn) as webauthn, sum(f.email) as email,
      sum(f.sms) as sms,
      sum(case when f.backup_left > 0 then 1 else 0 end) as backup_code
    from ${factorFlags} f
  `.execute(db)
  const row = rows[0] ?? {}
  return {
    totp: n(row.totp),
    webauthn: n(row.webauthn),
    email: n(row.email),
    sms: n(row.sms),
    backup_code: n(row.backup_code),
  }
}

export async function countUsersWithoutFactorByRole(db: Db): Promise<Map<string, number>> {
  const { rows } = await sql<{ role: string; n: unknown }>`
    select r.role_name as role, count(*) as n
    from user_roles r join ${factorFlags} f on f.user_id = r.user_id
    where ${noFactor}
    group by r.role_name
  `.execute(db)
  return new Map(rows.map((r) => [r.role, n(r.n)]))
}

/** Users holding a set of backup codes with fewer than `below` unused. */
export async function countUsersLowOnBackupCodes(db: Db, below: number): Promise<number> {
  const { rows } = await sql<{ n: unknown }>`
    select count(*) as n from ${factorFlags} f where f.has_backup = 1 and f.backup_left < ${below}
  `.execute(db)
  return n(rows[0]?.n)
}

export async function countUsersSmsOnly(db: Db): Promise<number> {
  const { rows } = await sql<{ n: unknown }>`
    select count(*) as n from ${factorFlags} f where f.sms = 1 and f.totp = 0 and f.email = 0
      and f.webauthn = 0
  `.execute(db)
  return n(rows[0]?.n)
}

/** Sessions not ended whose refresh token can still be used. */
export async function countActiveSessions(db: Db, usedSinceMs: number): Promise<number> {
  const row = await db
    .selectFrom('sessions')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('ended_at', 'is', null)
    .where('last_used_at', '>=', usedSinceMs)
    .executeTakeFirst()
  return n(row?.n)
}
