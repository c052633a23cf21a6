import type { Db } from '../../store/db.js'
import { existingRoleNames, rolesOfUser, setUserRoles } from '../../store/repositories/roles.js'
import {
  activeAdminIds,
  deleteUser,
  findUserIdByUsername,
  setUserFlag,
} from '../../store/repositories/user-admin.js'
import { findUserById } from '../../store/repositories/users.js'
import { normalizeIdentifier } from '../accounts/accounts.js'
import type { ProfileReader, UserProfile } from '../accounts/user-profile.js'
import type { AuditEntry, AuditLog, RequestContext } from '../audit/audit-log.js'
import { GatehouseError } from '../errors.js'
import type { Clock } from '../ports.js'
import type { SessionService } from '../sessions/session-service.js'
import type { AccountLocks } from '../lockout/account-locks.js'
import type { MfaReset } from './mfa-reset.js'

export interface UserPatch {
  roles?: string[]
  locked?: boolean
  disabled?: boolean
}

/** Who asks: an admin through the API (actorId set), or an operator at the CLI (null). */
export interface Actor {
  actorId: string | null
  context?: RequestContext
}

export type UserAdmin = ReturnType<typeof createUserAdmin>

const notFound = () => new GatehouseError('not_found', { detail: 'no such user' })

/** What admins (API) and operators (CLI) do to accounts: roles, lock, disable, delete, reset MFA. */
export function createUserAdmin(deps: {
  db: Db
  clock: Clock
  audit: AuditLog
  profiles: ProfileReader
  sessions: SessionService
  mfaReset: MfaReset
  accountLocks: AccountLocks
}) {
  const { db, clock, audit, profiles, sessions, mfaReset, accountLocks } = deps

  /**
   * Every change here is audited alike: to whom, by whom, from where, and what changed; in
   * the change's own transaction where it has one, so neither happens without the other.
   */
  function auditEntry(
    event: 'user_updated' | 'user_deleted' | 'mfa_reset',
    user: { id: string; username: string },
    by: Actor,
    details?: AuditEntry['details'],
  ): AuditEntry {
    return {
      event,
      outcome: 'success',
      userId: user.id,
      username: user.username,
      actorId: by.actorId,
      details,
      context: by.context,
    }
  }

  async function profileOf(userId: string): Promise<UserProfile> {
    const profile = await profiles.get(userId)
    if (!profile) throw notFound()
    return profile
  }

  /**
   * An admin may not remove the last admin who can still act (the only way back would be the
   * CLI). Operators at the CLI are that way back, so they are not stopped. Checked before any
   * change of a request (so a refused one changes nothing), and again, through `trx` with
   * `forChange`, inside the transaction of the change itself: two admins stepping down at
   * the same instant both passed the first check, and only the second decides between them.
   */
  async function assertAdminsRemain(
    run: Db,
    userId: string,
    by: Actor,
    what: string,
    forChange = false,
  ): Promise<void> {
    if (by.actorId === null) return
    const admins = await activeAdminIds(run, { forChange })
    if (admins.includes(userId) && admins.length === 1) {
      throw new GatehouseError('conflict', { detail: `the last active admin cannot ${what}` })
    }
  }
  const adminsRemainIn = (userId: string, by: Actor, what: string) => (trx: Db) =>
    assertAdminsRemain(trx, userId, by, what, true)

  /**
   * Locking goes through the account locks, which also own the automatic lockout: an admin's
   * unlock lifts both, whatever `locked` showed.
   */
  async function setLocked(user: UserProfile, on: boolean, by: Actor): Promise<void> {
    const actor = {
      actorId: by.actorId,
      via: by.actorId === null ? 'cli' : 'admin',
      context: by.context,
    } as const
    if (on) {
      await accountLocks.lock(
        user.id,
        { ...actor, username: user.username },
        adminsRemainIn(user.id, by, 'be locked'),
      )
      return
    }
    // Either kind showed as `locked: true` (user-profile.ts), so lifting either is the change
    // to `locked` that SPEC §4.6 audits as user_updated.
    await accountLocks.unlock(user.id, { ...actor, username: user.username }, (lifted) =>
      lifted.adminLock || lifted.lockout
        ? auditEntry('user_updated', user, by, { locked: false, via: actor.via })
        : undefined,
    )
  }

  async function setDisabled(user: UserProfile, on: boolean, by: Actor): Promise<void> {
    if (user.disabled === on) return
    const nowMs = clock.now().getTime()
    // One transaction: a disabled account whose sessions did not end would stay so, as a
    // retry finds it disabled already and changes nothing.
    await audit.change(async (trx, record) => {
      if (on) await adminsRemainIn(user.id, by, 'be disabled')(trx)
      await setUserFlag(trx, user.id, 'disabled_at', on ? nowMs : null, nowMs)
      if (on)
        await sessions.endAllWithin(trx, user.id, 'account_disabled', {
          actorId: by.actorId ?? undefined,
          context: by.context,
        })
      await record(auditEntry('user_updated', user, by, { disabled: on }))
    })
    profiles.changed(user.id)
  }

  async function setRoles(user: UserProfile, roles: string[], by: Actor): Promise<void> {
    const wanted = [...new Set(roles)].sort()
    const known = await existingRoleNames(db, wanted)
    const unknown = wanted.filter((r) => !known.has(r))
    if (unknown.length > 0) {
      throw new GatehouseError('validation_error', {
        detail: `roles: unknown role ${unknown.join(', ')}`,
      })
    }
    const previous = await rolesOfUser(db, user.id)
    if (previous.join('\0') === wanted.join('\0')) return
    await audit.change(async (trx, record) => {
      if (previous.includes('admin') && !wanted.includes('admin'))
        await adminsRemainIn(user.id, by, 'give up the admin role')(trx)
      await setUserRoles(trx, user.id, wanted)
      const details = { roles: wanted, previous_roles: previous }
      await record(auditEntry('user_updated', user, by, details))
    })
    profiles.changed(user.id)
  }

  return {
    get: profileOf,

    async idOf(username: string): Promise<string> {
      const id = await findUserIdByUsername(db, normalizeIdentifier(username))
      // Named, as the CLI's other commands name it: `user delete nobody` said only "no such user".
      if (id === undefined)
        throw new GatehouseError('not_found', { detail: `no such user ${username}` })
      return id
    },

    /** Applies roles, then lock, then disable; each change is audited on its own. */
    async update(userId: string, patch: UserPatch, by: Actor): Promise<UserProfile> {
      const user = await profileOf(userId)
      if (patch.roles !== undefined && !patch.roles.includes('admin'))
        await assertAdminsRemain(db, userId, by, 'give up the admin role')
      if (patch.locked === true) await assertAdminsRemain(db, userId, by, 'be locked')
      if (patch.disabled === true) await assertAdminsRemain(db, userId, by, 'be disabled')
      if (patch.roles !== undefined) await setRoles(user, patch.roles, by)
      if (patch.locked !== undefined) await setLocked(user, patch.locked, by)
      if (patch.disabled !== undefined) await setDisabled(user, patch.disabled, by)
      return profileOf(userId)
    },

    async remove(userId: string, by: Actor): Promise<void> {
      const user = await findUserById(db, userId)
      if (!user) throw notFound()
      await assertAdminsRemain(db, userId, by, 'be deleted')
      // The sessions end in the delete's transaction: a delete refused there (the last
      // admin, after all) leaves them alive, and one that happens ends them for certain.
      const deleted = await audit.change(async (trx, record) => {
        await adminsRemainIn(userId, by, 'be deleted')(trx)
        await sessions.endAllWithin(trx, userId, 'account_deleted', {
          actorId: by.actorId ?? undefined,
          context: by.context,
        })
        if (!(await deleteUser(trx, userId))) return false
        await record(auditEntry('user_deleted', user, by))
        return true
      })
      if (!deleted) throw notFound()
      profiles.changed(userId)
    },

    async resetMfa(userId: string, by: Actor): Promise<void> {
      const user = await profileOf(userId)
      await mfaReset(userId, auditEntry('mfa_reset', user, by))
      profiles.changed(userId)
    },
  }
}
