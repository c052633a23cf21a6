import type { Db } from './db.js'
import { retryOnDeadlock } from './errors.js'

/**
 * Runs `work` in one transaction, and runs it again when the database picked it as a
 * deadlock's victim. InnoDB does so among ordinary concurrent writes: the gap locks of one
 * request's `delete … where user_id = ?` and another's insert of a neighbouring row make a
 * cycle even when the two requests concern different users (a replace of backup codes, roles
 * or a login code; seen in 14 of 960 such writes at eight users at once). The victim's
 * transaction was rolled back whole, so running it again is the answer, not a 500.
 *
 * Every transaction goes through here (the linter refuses `.transaction()` elsewhere), so
 * `work` must do nothing but read and write through `trx`: anything else it did, such as
 * sending a message, would happen once per attempt; what must follow the commit is handed to
 * `afterCommit`.
 *
 * Given a transaction, `work` joins it: a repository function that needs its writes to be
 * one (ending sessions, say) can then also be part of a caller's larger one, which commits
 * or rolls back, and retries, as a whole.
 */
export async function inTransaction<T>(db: Db, work: (trx: Db) => Promise<T>): Promise<T> {
  if (db.isTransaction) return work(db)
  let hooks: (() => void)[] = []
  const result = await retryOnDeadlock(() =>
    db.transaction().execute(async (trx) => {
      hooks = [] // an attempt rolled back as a deadlock's victim committed nothing
      commitHooks.set(trx, hooks)
      try {
        return await work(trx)
      } finally {
        // A hook handed over once `work` is done would never run: let that fail loudly.
        commitHooks.delete(trx)
      }
    }),
  )
  runAll(hooks)
  return result
}

/**
 * Every hook runs, even after one throws: one module's mistake must not keep the gate from
 * hearing that sessions ended. The first error is then rethrown, as a bug to see.
 */
function runAll(hooks: (() => void)[]): void {
  const errors: unknown[] = []
  for (const hook of hooks) {
    try {
      hook()
    } catch (err) {
      errors.push(err)
    }
  }
  if (errors.length > 0) throw errors[0]
}

const commitHooks = new WeakMap<Db, (() => void)[]>()

/**
 * Runs `hook` once what `trx` wrote has committed, and never if it rolls back: for what
 * cannot be part of a transaction but must follow it, such as telling the gate (and other
 * instances) that sessions ended or waking the audit sealer. Outside a transaction the write
 * before this call has committed already, so `hook` runs at once.
 */
export function afterCommit(trx: Db, hook: () => void): void {
  if (!trx.isTransaction) return hook()
  const hooks = commitHooks.get(trx)
  // A transaction not opened by inTransaction (the linter allows no other), or one whose
  // work has returned, would drop the hook.
  if (hooks === undefined)
    throw new Error('afterCommit: not inside the work of an inTransaction transaction')
  hooks.push(hook)
}
