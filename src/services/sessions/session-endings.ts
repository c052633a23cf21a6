import type { Db } from '../../store/db.js'
import { spendMfaTokensOf } from '../../store/repositories/mfa-tokens.js'
import { endSessions } from '../../store/repositories/sessions.js'
import { afterCommit, inTransaction } from '../../store/transactions.js'
import type { AuditLog, RequestContext } from '../audit/audit-log.js'
import type { Clock } from '../ports.js'
import type { SessionGate } from './session-gate.js'

/** Which of a user's live sessions end: one, all, or all but one. */
export interface EndFilter {
  userId: string
  sessionId?: string
  exceptSessionId?: string
}

export interface EndOptions {
  context?: RequestContext
  /** The admin who ended them, for the audit log. */
  actorId?: string
}

export type SessionEndings = ReturnType<typeof createSessionEndings>

/**
 * Every way a session ends (logout, revocation, password change or reset, lock, reuse of a
 * refresh token) goes through here, so each end is the same: the rows, what hangs off them,
 * an audit row per session, and, once that commits, the gate refusing their tokens here and
 * on every other instance.
 */
export function createSessionEndings(deps: {
  db: Db
  clock: Clock
  gate: SessionGate
  audit: AuditLog
}) {
  const { db, clock, gate, audit } = deps
  // Others whose state hangs off a session (the OpenID provider's sessions and tokens) end
  // with it, in the transaction that ends it.
  const listeners: ((trx: Db, sessionIds: string[]) => Promise<void>)[] = []

  /** Ends the sessions `filter` names through `trx`; returns the ids of those it ended. */
  async function endThrough(
    trx: Db,
    filter: EndFilter,
    reason: string,
    opts: EndOptions = {},
  ): Promise<string[]> {
    const ended = await endSessions(trx, filter, reason, clock.now().getTime())
    // Before the audit rows' hooks: the gate is what refuses their tokens.
    afterCommit(trx, () => gate.markEnded(ended))
    if (ended.length > 0) for (const listener of listeners) await listener(trx, ended)
    for (const sessionId of ended) {
      await audit.recordIn(trx, {
        event: 'session_ended',
        outcome: 'success',
        userId: filter.userId,
        actorId: opts.actorId ?? null,
        details: { session_id: sessionId, reason },
        context: opts.context,
      })
    }
    return ended
  }

  return {
    endThrough,

    /** `endThrough` in a transaction of its own. */
    end(filter: EndFilter, reason: string, opts: EndOptions = {}): Promise<string[]> {
      return inTransaction(db, (trx) => endThrough(trx, filter, reason, opts))
    },

    /**
     * Ends every session of a user (or every one but `exceptSessionId`) through `trx`. A
     * password step passed before this point is part of what ends: its mfa_token would
     * otherwise still open a session with the old password for up to five minutes.
     */
    async endAllThrough(
      trx: Db,
      userId: string,
      reason: string,
      opts: EndOptions & { exceptSessionId?: string } = {},
    ): Promise<string[]> {
      const { exceptSessionId, ...rest } = opts
      await spendMfaTokensOf(trx, userId, clock.now().getTime())
      const filter = exceptSessionId === undefined ? { userId } : { userId, exceptSessionId }
      return endThrough(trx, filter, reason, rest)
    },

    /** Calls `listener` with the ids of sessions each time some end, in their transaction. */
    onSessionsEnded: (listener: (trx: Db, sessionIds: string[]) => Promise<void>): void => {
      listeners.push(listener)
    },
  }
}
