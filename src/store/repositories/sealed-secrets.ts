import { sql } from 'kysely'
import type { Db } from '../db.js'

/**
 * Every long-lived column holding a secret-box envelope. A new sealed column belongs here, so
 * that start-up can tell whether this instance holds every key the database needs.
 * `refresh_tokens.successor_sealed` is left out: it is read only for REFRESH_REUSE_GRACE
 * after a refresh and `secrets rotate` does not re-encrypt it, so old values are harmless.
 */
const SEALED_COLUMNS = [
  ['signing_keys', 'private_key_sealed'],
  ['totp_secrets', 'secret_sealed'],
  ['totp_subjects', 'secret_sealed'],
  ['app_secrets', 'sealed'],
] as const

/** The distinct first 12 characters (`v1.<kid>.`) of every sealed value: one scan per column. */
export async function sealedEnvelopeHeads(db: Db): Promise<string[]> {
  // substr(text, start, length) is spelled and counted alike in SQLite, PostgreSQL and MySQL.
  const selects = SEALED_COLUMNS.map(
    ([table, column]) =>
      sql`select distinct substr(${sql.ref(column)}, 1, 12) as head from ${sql.table(table)}`,
  )
  const { rows } = await sql<{ head: string | null }>`${sql.join(selects, sql` union `)}`.execute(
    db,
  )
  return rows.flatMap((r) => (r.head === null ? [] : [r.head]))
}
