import { MysqlAdapter, PostgresAdapter, sql } from 'kysely'
import type { Db } from '../../src/store/db.js'

/**
 * Makes every `op` on a row of `table` fail until the returned function is called: a
 * database failure half way through a request, for tests of what such a failure leaves
 * behind. A trigger rather than renaming the table away: on PostgreSQL, Kysely's migrator in
 * another test file starting at that moment reads every schema's tables by name, and failed
 * on one renamed under it. Row triggers: the write fails only where it touches a row.
 */
export async function failingWrites(
  db: Db,
  table: string,
  op: 'insert' | 'update' | 'delete',
  /** Only rows whose `column` is `is` (on insert and update, the new row). */
  only?: { column: string; is: string },
): Promise<() => Promise<void>> {
  const name = sql.id(`fail_${op}_${table}`)
  const on = sql.raw(`before ${op} on ${table}`)
  const row = op === 'delete' ? 'OLD' : 'NEW'
  const matches = only ? sql`${sql.raw(`${row}.${only.column}`)} = ${sql.lit(only.is)}` : sql`true`
  const adapter = db.getExecutor().adapter
  if (adapter instanceof PostgresAdapter) {
    await sql`create function ${name}() returns trigger language plpgsql as $$
      begin raise exception 'writes fail here (test)'; end $$`.execute(db)
    await sql`create trigger ${name} ${on} for each row when (${matches})
      execute function ${name}()`.execute(db)
    return async () => {
      await sql`drop trigger ${name} on ${sql.table(table)}`.execute(db)
      await sql`drop function ${name}()`.execute(db)
    }
  }
  if (adapter instanceof MysqlAdapter) {
    await sql`create trigger ${name} ${on} for each row if ${matches} then
      signal sqlstate '45000' set message_text = 'writes fail here (test)'; end if`.execute(db)
  } else {
    await sql`create trigger ${name} ${on} when ${matches}
      begin select raise(abort, 'writes fail here (test)'); end`.execute(db)
  }
  return async () => {
    await sql`drop trigger ${name}`.execute(db)
  }
}
