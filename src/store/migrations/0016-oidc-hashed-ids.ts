import { createHash } from 'node:crypto'
import type { Kysely } from 'kysely'

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations work on Kysely<any> */
/**
 * SPEC §5 keeps tokens and one-time codes only as hashes. The OpenID provider's storage kept
 * every model under the id the provider gave it, and for authorization codes, access and
 * refresh tokens (and pushed requests) that id is the value the client holds, repeated as the
 * payload's `jti`. The adapter now stores those ids as SHA-256 hex and drops `jti` (see
 * services/oidc/adapter.ts); this converts the rows written before it, so the tokens people's
 * applications hold keep working and nobody has to sign in to them again.
 *
 * Which models keep their ids as given is repeated here rather than imported: a migration
 * must go on doing what it did when it was written. Rows are converted in batches of
 * `(model, id)` order; a row whose id is already 64 hex digits (which the provider's ids, 21
 * or 43 base64url characters, never are) is skipped, so a run that stopped half way (MySQL
 * runs a migration outside a transaction) can simply run again.
 *
 * During a rolling upgrade an instance still on the old code may write a raw row after this
 * ran; the new code cannot find it, so that one code or token is refused and its user signs
 * in to the application again. Nothing else is lost.
 */
const UNHASHED_ID_MODELS = ['Session', 'Interaction', 'Grant']
const BATCH = 500
const isConverted = (id: string) => /^[0-9a-f]{64}$/.test(id)

/**
 * A batch's updates in one commit: one write to disk instead of one per row (MySQL runs a
 * migration outside a transaction, so each update would commit on its own). PostgreSQL and
 * SQLite already hand the migration a transaction, which cannot open another. Instances of
 * the old version may still be writing this table during a rolling upgrade, and InnoDB may
 * pick the batch as a deadlock's victim: it was rolled back whole, so it simply runs again
 * (store/transactions.ts does the same, but a migration imports no app code).
 */
async function inOneTransaction(
  db: Kysely<any>,
  work: (trx: Kysely<any>) => Promise<void>,
): Promise<void> {
  if (db.isTransaction) return work(db)
  for (let attempt = 1; ; attempt++) {
    try {
      // eslint-disable-next-line no-restricted-syntax -- a deadlock victim runs again (below)
      return await db.transaction().execute(work)
    } catch (err) {
      const { code, errno } = (err ?? {}) as { code?: unknown; errno?: unknown }
      if (attempt >= 5 || !(code === 'ER_LOCK_DEADLOCK' || errno === 1213)) throw err
    }
  }
}

export async function up(db: Kysely<any>): Promise<void> {
  let after: { model: string; id: string } | undefined
  for (;;) {
    const last = after
    const rows: { model: string; id: string; payload: string }[] = await db
      .selectFrom('oidc_payloads')
      .select(['model', 'id', 'payload'])
      .where('model', 'not in', UNHASHED_ID_MODELS)
      .$if(last !== undefined, (q) =>
        q.where((eb) =>
          eb.or([
            eb('model', '>', last!.model),
            eb.and([eb('model', '=', last!.model), eb('id', '>', last!.id)]),
          ]),
        ),
      )
      .orderBy('model')
      .orderBy('id')
      .limit(BATCH)
      .execute()
    if (rows.length === 0) return
    await inOneTransaction(db, async (trx) => {
      for (const row of rows) {
        if (isConverted(row.id)) continue
        const payload = JSON.parse(row.payload) as Record<string, unknown>
        delete payload.jti
        await trx
          .updateTable('oidc_payloads')
          .set({
            id: createHash('sha256').update(row.id).digest('hex'),
            payload: JSON.stringify(payload),
          })
          .where('model', '=', row.model)
          .where('id', '=', row.id)
          .execute()
      }
    })
    after = rows[rows.length - 1]
  }
}

/**
 * A hash cannot be turned back into the token it was made from, and the old code would look
 * the converted rows up by the raw value: they are deleted, so every application signed in
 * through Gatehouse gets `invalid_grant` at its next refresh and sends its user to sign in
 * again (provider sessions and remembered consents stay).
 */
export async function down(db: Kysely<any>): Promise<void> {
  await db.deleteFrom('oidc_payloads').where('model', 'not in', UNHASHED_ID_MODELS).execute()
}
