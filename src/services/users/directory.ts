import type { Db } from '../../store/db.js'
import { lockedOutAmong } from '../../store/repositories/lockouts.js'
import { rolesOfUsers } from '../../store/repositories/roles.js'
import { listUsers } from '../../store/repositories/users.js'
import {
  toProfile,
  type MfaSummary,
  type MfaSummaryReader,
  type UserProfile,
} from '../accounts/user-profile.js'
import { GatehouseError } from '../errors.js'
import type { CursorCodec, Page } from '../pagination.js'
import type { Clock } from '../ports.js'

export type UserDirectory = ReturnType<typeof createUserDirectory>

/** Paged listing of users for administrators and the CLI. */
export function createUserDirectory(deps: {
  db: Db
  clock: Clock
  cursors: CursorCodec
  mfaSummary: MfaSummaryReader
  /** Reads a whole page's summaries at once; without it, one read per user. */
  mfaSummaries?: (userIds: readonly string[]) => Promise<Map<string, MfaSummary>>
}) {
  return {
    async list(opts: { limit: number; cursor?: string; q?: string }): Promise<Page<UserProfile>> {
      let after: { createdAt: number; id: string } | undefined
      if (opts.cursor !== undefined) {
        const { c, i } = deps.cursors.decode(opts.cursor)
        if (typeof c !== 'number' || typeof i !== 'string') {
          throw new GatehouseError('validation_error', {
            detail: 'cursor: is not a cursor this server issued',
          })
        }
        after = { createdAt: c, id: i }
      }
      const rows = await listUsers(deps.db, {
        limit: opts.limit + 1,
        after,
        prefix: opts.q?.toLowerCase(),
      })
      const pageRows = rows.slice(0, opts.limit)
      const roles = await rolesOfUsers(
        deps.db,
        pageRows.map((r) => r.id),
      )
      const ids = pageRows.map((r) => r.id)
      const mfa = deps.mfaSummaries
        ? await deps.mfaSummaries(ids)
        : new Map(
            await Promise.all(ids.map(async (id) => [id, await deps.mfaSummary(id)] as const)),
          )
      const lockedOut = await lockedOutAmong(deps.db, ids, deps.clock.now().getTime())
      const items = pageRows.map((r) =>
        toProfile(r, roles.get(r.id) ?? [], mfa.get(r.id)!, lockedOut.has(r.id)),
      )
      const last = pageRows.at(-1)
      return {
        items,
        nextCursor:
          rows.length > opts.limit && last
            ? deps.cursors.encode({ c: last.created_at, i: last.id })
            : null,
      }
    },
  }
}
