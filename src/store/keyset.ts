import type { SelectQueryBuilder } from 'kysely'
import type { Database } from './tables.js'

/** Where the previous page ended (services/pagination.ts encodes it in the cursor). */
export interface KeysetPosition {
  createdAt: number
  id: string
}

/** The tables listed in pages by `(created_at, id)`. */
type PagedTable = 'users' | 'api_keys' | 'products' | 'oidc_clients'

/**
 * One page of `q` in `(created_at, id)` order, after `after`: the id breaks ties between rows
 * created in the same millisecond, so paging never skips or repeats a row.
 */
export function keysetPage<O>(
  q: SelectQueryBuilder<Database, PagedTable, O>,
  opts: { limit: number; after?: KeysetPosition },
): Promise<O[]> {
  const after = opts.after
  if (after) {
    q = q.where((eb) =>
      eb.or([
        eb('created_at', '>', after.createdAt),
        eb.and([eb('created_at', '=', after.createdAt), eb('id', '>', after.id)]),
      ]),
    )
  }
  return q.orderBy('created_at').orderBy('id').limit(opts.limit).execute()
}
