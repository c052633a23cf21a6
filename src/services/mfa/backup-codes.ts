import type { CodeHashes } from '../../crypto/code-hashes.js'
import type { Db } from '../../store/db.js'
import { inTransaction } from '../../store/transactions.js'
import {
  consumeBackupCode,
  countUnusedBackupCodes,
  deleteBackupCodes,
  replaceBackupCodes,
} from '../../store/repositories/backup-codes.js'
import type { BackupCodesTable } from '../../store/tables.js'
import { newId } from '../ids.js'
import type { Clock, Random } from '../ports.js'

export const BACKUP_CODES_PER_SET = 10
// 32 symbols without 0/o and 1/l, so a byte's low five bits pick one without bias.
const ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789'
const CODE_LENGTH = 10 // 50 bits

export type BackupCodes = ReturnType<typeof createBackupCodes>

/** Accepts the code as shown (`abcde-fghij`), in any case, with or without spaces and dashes. */
export function normalizeBackupCode(code: string): string {
  return code.replace(/[\s-]/g, '').toLowerCase()
}

export function createBackupCodes(deps: {
  db: Db
  clock: Clock
  random: Random
  hasher: CodeHashes
}) {
  const { db, clock, random, hasher } = deps
  const context = (userId: string) => `backup_code:${userId}`

  function newCode(): string {
    const bytes = random.bytes(CODE_LENGTH)
    const chars = [...bytes].map((b) => ALPHABET[b & 31]).join('')
    return `${chars.slice(0, 5)}-${chars.slice(5)}`
  }

  return {
    /**
     * A new set of 10: the plain codes, shown once, and `write` to replace the old set with
     * their hashes through `run` (the caller's transaction, when the set is part of a larger
     * change). Hashed here, before any transaction: the code-hash keys may need a read.
     */
    async newSet(userId: string): Promise<{ codes: string[]; write: (run: Db) => Promise<void> }> {
      const nowMs = clock.now().getTime()
      const codes = Array.from({ length: BACKUP_CODES_PER_SET }, newCode)
      const rows: BackupCodesTable[] = []
      for (const code of codes) {
        rows.push({
          id: newId(random),
          user_id: userId,
          code_hash: await hasher.hash(normalizeBackupCode(code), context(userId)),
          used_at: null,
          created_at: nowMs,
        })
      }
      return { codes, write: (run) => replaceBackupCodes(run, userId, rows) }
    },

    /**
     * Spends a code if it is one of the user's unused codes; single use is one conditional
     * write. `alsoWrite` joins its transaction with the codes left (the audit event).
     */
    async consume(
      userId: string,
      code: string,
      alsoWrite: (trx: Db, remaining: number) => Promise<void>,
    ): Promise<boolean> {
      const normalized = normalizeBackupCode(code)
      if (normalized.length !== CODE_LENGTH) return false
      // Under every code-hash key there has been, so `secrets rotate` breaks no code.
      const hashes = await hasher.candidates(normalized, context(userId))
      return inTransaction(db, async (trx) => {
        if (!(await consumeBackupCode(trx, userId, hashes, clock.now().getTime()))) return false
        await alsoWrite(trx, await countUnusedBackupCodes(trx, userId))
        return true
      })
    },

    /** `run`: the caller's transaction, when the removal is part of a larger one. */
    remove: (userId: string, run: Db = db) => deleteBackupCodes(run, userId),
  }
}
