import type { Db } from '../../store/db.js'
import { readChainHead, sealedAuditEventsAfter } from '../../store/repositories/audit-chain.js'
import { chainHash, GENESIS_HASH, toChainRecord, type ChainRecord } from './chain.js'
import type { AuditSealer } from './audit-sealer.js'

export type ChainVerdict =
  { ok: true; events: number } | { ok: false; brokenId: string; reason: string; events: number }

const PAGE = 1_000

export type AuditChainCheck = ReturnType<typeof createAuditChainCheck>

/** `gatehouse audit verify` and `audit export` (SPEC §4.14). */
export function createAuditChainCheck(deps: { db: Db; sealer: AuditSealer }) {
  const { db } = deps
  return {
    /**
     * Walks the sealed rows in id order, recomputing every link, up to the head the chain row
     * names (read first, so rows sealed meanwhile are left for the next run). An edited row
     * fails its own hash; a deleted one fails its successor's link; an inserted one (with a
     * made-up hash) fails its own; a cut tail no longer reaches the head.
     */
    async verify(): Promise<ChainVerdict> {
      await deps.sealer.sealNow()
      const head = await readChainHead(db)
      let previous = GENESIS_HASH
      let afterId = 0
      let events = 0
      for (;;) {
        const rows = await sealedAuditEventsAfter(db, afterId, PAGE)
        for (const row of rows) {
          const id = Number(row.id)
          if (id > head.lastId) break
          let expected: string
          try {
            expected = chainHash(previous, toChainRecord(row))
          } catch {
            return { ok: false, brokenId: String(id), reason: 'unreadable details', events }
          }
          if (expected !== row.hash)
            return { ok: false, brokenId: String(id), reason: 'hash does not match', events }
          if (id === head.lastId && row.hash !== head.lastHash)
            return { ok: false, brokenId: String(id), reason: 'not the sealed head', events }
          previous = expected
          afterId = id
          events++
        }
        const last = rows.at(-1)
        if (rows.length < PAGE || !last || Number(last.id) > head.lastId) break
      }
      if (afterId !== head.lastId) {
        return {
          ok: false,
          brokenId: String(head.lastId),
          reason: 'the sealed head is missing',
          events,
        }
      }
      // A row past the head that carries a hash was never sealed here: the sealer writes the
      // hashes and the head in one transaction. Unless the head moved on meanwhile (another
      // instance sealed), it was written by hand, to pass as a sealed event.
      const [beyond] = await sealedAuditEventsAfter(db, head.lastId, 1)
      if (beyond && Number(beyond.id) > (await readChainHead(db)).lastId)
        return { ok: false, brokenId: String(beyond.id), reason: 'sealed beyond the head', events }
      return { ok: true, events }
    },

    /** Sealed rows (optionally from `since` on) as export records, in chain order. */
    async *export(since?: Date): AsyncGenerator<ChainRecord & { hash: string }> {
      await deps.sealer.sealNow()
      // Up to the head: a row past it with a hash was not sealed by us (see verify).
      const head = await readChainHead(db)
      let afterId = 0
      for (;;) {
        const rows = await sealedAuditEventsAfter(db, afterId, PAGE, since?.getTime())
        for (const row of rows) {
          if (Number(row.id) > head.lastId) return
          let record: ChainRecord
          try {
            record = toChainRecord(row)
          } catch {
            // Unreadable details are exported as null: the row then fails verification there too.
            record = toChainRecord({ ...row, details: null })
          }
          yield { ...record, hash: row.hash ?? '' }
        }
        const last = rows.at(-1)
        if (!last || rows.length < PAGE) return
        afterId = Number(last.id)
      }
    },
  }
}
