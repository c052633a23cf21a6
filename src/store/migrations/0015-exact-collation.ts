import type { Kysely } from 'kysely'
import { isMysql, useExactCollation } from './dialect-helpers.js'

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations work on Kysely<any> */
/**
 * The tables of passkeys, the OpenID provider, the audit chain and notifications were made
 * after 0005 converted every table: on a MySQL/MariaDB database whose default collation
 * ignores case or trailing spaces they would compare loosely (SPEC §5). Convert them too.
 */
export async function up(db: Kysely<any>): Promise<void> {
  if (isMysql(db)) await useExactCollation(db)
}
