import type { Db } from '../db.js'
import { retryOnDeadlock } from '../errors.js'
import { inTransaction } from '../transactions.js'
import type { OidcPayloadsTable } from '../tables.js'

export type OidcPayloadRow = OidcPayloadsTable

/** Inserts or replaces one stored object (oidc-provider's `upsert`). */
export async function upsertOidcPayload(db: Db, row: OidcPayloadRow): Promise<void> {
  // Delete and insert in one transaction: the same statement on all three databases, where
  // each has its own upsert syntax. The provider saves several objects at once; on InnoDB the
  // gap locks of two such deletes can deadlock their inserts, and the loser simply runs again.
  // (Every write to this table is retried so; each may be repeated.)
  await inTransaction(db, async (trx) => {
    await trx
      .deleteFrom('oidc_payloads')
      .where('model', '=', row.model)
      .where('id', '=', row.id)
      .execute()
    await trx.insertInto('oidc_payloads').values(row).execute()
  })
}

type Lookup = 'id' | 'uid' | 'user_code'

/** The live row of a model by id, uid or user code; expired rows are never returned. */
export async function findOidcPayload(
  db: Db,
  model: string,
  by: Lookup,
  value: string,
  nowMs: number,
): Promise<OidcPayloadRow | undefined> {
  return db
    .selectFrom('oidc_payloads')
    .selectAll()
    .where('model', '=', model)
    .where(by, '=', value)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', nowMs)]))
    .executeTakeFirst()
}

/**
 * Marks a code or refresh token consumed if nobody did first: one conditional write, so two
 * instances redeeming the same code at once cannot both succeed (SPEC §5 single use).
 */
export async function consumeOidcPayload(
  db: Db,
  model: string,
  id: string,
  nowMs: number,
): Promise<boolean> {
  const res = await retryOnDeadlock(() =>
    db
      .updateTable('oidc_payloads')
      .set({ consumed_at: nowMs })
      .where('model', '=', model)
      .where('id', '=', id)
      .where('consumed_at', 'is', null)
      .executeTakeFirst(),
  )
  return Number(res.numUpdatedRows) === 1
}

export async function deleteOidcPayload(db: Db, model: string, id: string): Promise<void> {
  await retryOnDeadlock(() =>
    db.deleteFrom('oidc_payloads').where('model', '=', model).where('id', '=', id).execute(),
  )
}

/** Everything issued under one grant, whatever the model. */
export async function deleteOidcPayloadsByGrant(db: Db, grantId: string): Promise<void> {
  await retryOnDeadlock(() =>
    db.deleteFrom('oidc_payloads').where('grant_id', '=', grantId).execute(),
  )
}

/** One model's objects issued under one grant (oidc-provider's revokeByGrantId). */
export async function deleteOidcPayloadsOfGrant(
  db: Db,
  model: string,
  grantId: string,
): Promise<void> {
  await retryOnDeadlock(() =>
    db
      .deleteFrom('oidc_payloads')
      .where('model', '=', model)
      .where('grant_id', '=', grantId)
      .execute(),
  )
}

/**
 * Provider sessions with these uids, and every code and token issued under them. Part of the
 * transaction that ends Gatehouse sessions when given one (which retries as a whole after a
 * deadlock: a statement retried inside it would run in an aborted or, on MySQL, a rolled-back
 * transaction).
 */
export async function deleteOidcPayloadsBySessionUids(
  db: Db,
  uids: readonly string[],
): Promise<void> {
  if (uids.length === 0) return
  await inTransaction(db, (trx) =>
    trx
      .deleteFrom('oidc_payloads')
      .where((eb) =>
        eb.or([
          eb.and([eb('model', '=', 'Session'), eb('uid', 'in', uids)]),
          eb('session_uid', 'in', uids),
        ]),
      )
      .execute(),
  )
}

/** Rows past their expiry; returns how many were removed. */
export async function sweepExpiredOidcPayloads(db: Db, nowMs: number): Promise<number> {
  const res = await retryOnDeadlock(() =>
    db
      .deleteFrom('oidc_payloads')
      .where('expires_at', 'is not', null)
      .where('expires_at', '<=', nowMs)
      .executeTakeFirst(),
  )
  return Number(res.numDeletedRows)
}

/** Whether a provider session ends with this Gatehouse session. */
export async function oidcSessionLinked(
  db: Db,
  sessionUid: string,
  gatehouseSessionId: string,
): Promise<boolean> {
  const row = await db
    .selectFrom('oidc_session_links')
    .select('session_uid')
    .where('session_uid', '=', sessionUid)
    .where('gatehouse_session_id', '=', gatehouseSessionId)
    .executeTakeFirst()
  return row !== undefined
}

export async function linkOidcSession(
  db: Db,
  sessionUid: string,
  gatehouseSessionId: string,
  nowMs: number,
): Promise<void> {
  if (await oidcSessionLinked(db, sessionUid, gatehouseSessionId)) return
  try {
    await db
      .insertInto('oidc_session_links')
      .values({
        session_uid: sessionUid,
        gatehouse_session_id: gatehouseSessionId,
        created_at: nowMs,
      })
      .execute()
  } catch (err) {
    // A concurrent request wrote the same link: the row is there, which is all we want.
    if (!(await oidcSessionLinked(db, sessionUid, gatehouseSessionId))) throw err
  }
}

/** The Gatehouse sessions a provider session ends with. */
export async function gatehouseSessionsOf(db: Db, sessionUid: string): Promise<string[]> {
  const rows = await db
    .selectFrom('oidc_session_links')
    .select('gatehouse_session_id')
    .where('session_uid', '=', sessionUid)
    .execute()
  return rows.map((r) => r.gatehouse_session_id)
}

/** Removes the links of ended Gatehouse sessions and returns the provider sessions they named. */
export async function takeOidcSessionLinks(
  db: Db,
  gatehouseSessionIds: readonly string[],
): Promise<string[]> {
  if (gatehouseSessionIds.length === 0) return []
  const rows = await db
    .selectFrom('oidc_session_links')
    .select('session_uid')
    .where('gatehouse_session_id', 'in', gatehouseSessionIds)
    .execute()
  await db
    .deleteFrom('oidc_session_links')
    .where('gatehouse_session_id', 'in', gatehouseSessionIds)
    .execute()
  return [...new Set(rows.map((r) => r.session_uid))]
}

/** Ends every grant (and what it issued) of one person for one client. */
export async function deleteOidcGrantsOf(
  db: Db,
  accountId: string,
  clientId: string,
): Promise<void> {
  const grants = await db
    .selectFrom('oidc_payloads')
    .select('id')
    .where('model', '=', 'Grant')
    .where('account_id', '=', accountId)
    .where('client_id', '=', clientId)
    .execute()
  const ids = grants.map((g) => g.id)
  if (ids.length === 0) return
  await retryOnDeadlock(() =>
    db
      .deleteFrom('oidc_payloads')
      .where((eb) =>
        eb.or([
          eb.and([eb('model', '=', 'Grant'), eb('id', 'in', ids)]),
          eb('grant_id', 'in', ids),
        ]),
      )
      .execute(),
  )
}
