import type { Db } from '../../store/db.js'
import {
  findLockout,
  findLockoutByIdentifier,
  liftLockout,
  setAdminLock,
} from '../../store/repositories/lockouts.js'
import { normalizeIdentifier } from '../accounts/accounts.js'
import type { ProfileReader } from '../accounts/user-profile.js'
import type { AuditEntry, AuditLog, RequestContext } from '../audit/audit-log.js'
import { GatehouseError } from '../errors.js'
import type { Clock } from '../ports.js'
import type { SessionService } from '../sessions/session-service.js'

export interface LockActor {
  /** The admin acting (admin API); absent for the CLI. */
  actorId?: string | null
  via: 'cli' | 'admin'
  /** The username as the operator typed it, for the audit log. */
  username?: string
  context?: RequestContext
}

export type AccountLocks = ReturnType<typeof createAccountLocks>

/** Which locks an unlock found in force. */
export interface Lifted {
  adminLock: boolean
  lockout: boolean
}

/**
 * Locking and unlocking accounts by hand (CLI and admin API). An admin's lock is
 * `users.locked_at` and lasts until lifted; the automatic lockout after
 * LOCKOUT_THRESHOLD failures expires by itself. Unlocking lifts both.
 */
export function createAccountLocks(deps: {
  db: Db
  clock: Clock
  audit: AuditLog
  sessions: SessionService
  profiles: ProfileReader
}) {
  const { db, clock, audit, sessions, profiles } = deps

  return {
    /** The id of the account a username (or email) names, or `not_found`. */
    async resolve(identifier: string): Promise<string> {
      const state = await findLockoutByIdentifier(db, normalizeIdentifier(identifier))
      if (!state) throw new GatehouseError('not_found', { detail: `no such user ${identifier}` })
      return state.userId
    },

    /** When the automatic lockout ends, if one is in force. */
    async lockedOutUntil(userId: string): Promise<Date | null> {
      const state = await findLockout(db, userId)
      const nowMs = clock.now().getTime()
      return state?.lockedUntil != null && state.lockedUntil > nowMs
        ? new Date(state.lockedUntil)
        : null
    },

    /**
     * An admin's lock: refuses logins and refreshes, ends every session. False if already
     * locked. `allowed` runs first in the lock's transaction and may refuse it by throwing.
     */
    async lock(
      userId: string,
      actor: LockActor,
      allowed?: (trx: Db) => Promise<void>,
    ): Promise<boolean> {
      // One transaction: a lock whose sessions did not end would stay so, as a retry finds
      // the account locked already and changes nothing.
      const locked = await audit.change(async (trx, record) => {
        await allowed?.(trx)
        if (!(await setAdminLock(trx, userId, true, clock.now().getTime()))) return false
        await sessions.endAllWithin(trx, userId, 'account_locked', {
          context: actor.context,
          actorId: actor.actorId ?? undefined,
        })
        await record({
          event: 'user_updated',
          outcome: 'success',
          userId,
          username: actor.username ?? null,
          actorId: actor.actorId ?? null,
          details: { locked: true, via: actor.via },
          context: actor.context,
        })
        return true
      })
      if (locked) profiles.changed(userId)
      return locked
    },

    /**
     * Lifts an admin's lock and an automatic lockout, with its audit event, in one
     * transaction; says which were in force. `alsoRecord` may add the caller's audit event
     * (an admin's `user_updated`) to it.
     */
    async unlock(
      userId: string,
      actor: LockActor,
      alsoRecord?: (lifted: Lifted) => AuditEntry | undefined,
    ): Promise<Lifted> {
      const nowMs = clock.now().getTime()
      const lifted = await audit.change(async (trx, record) => {
        const lifted = {
          adminLock: await setAdminLock(trx, userId, false, nowMs),
          lockout: await liftLockout(trx, userId, nowMs),
        }
        await record({
          event: 'account_unlocked',
          outcome: 'success',
          userId,
          username: actor.username ?? null,
          actorId: actor.actorId ?? null,
          details: { admin_lock: lifted.adminLock, lockout: lifted.lockout, via: actor.via },
          context: actor.context,
        })
        const also = alsoRecord?.(lifted)
        if (also) await record(also)
        return lifted
      })
      // Either shows in the user object's `locked` (user-profile.ts).
      if (lifted.adminLock || lifted.lockout) profiles.changed(userId)
      return lifted
    },
  }
}
