import type { Db } from '../../store/db.js'
import { lockedOutAmong } from '../../store/repositories/lockouts.js'
import { rolesOfUser } from '../../store/repositories/roles.js'
import { findUserById, type UserRow } from '../../store/repositories/users.js'
import type { InvalidationBus } from '../cache/invalidation.js'
import { TtlCache } from '../cache/ttl-cache.js'
import type { Clock } from '../ports.js'

export interface MfaSummary {
  totp: boolean
  webauthn: number
  email: boolean
  sms: boolean
  backupCodesRemaining: number
}

export interface UserProfile {
  id: string
  username: string
  email: string | null
  emailVerified: boolean
  phone: string | null
  phoneVerified: boolean
  roles: string[]
  /** An admin's lock (`users.locked_at`): refuses the right password, ends every session. */
  locked: boolean
  /**
   * Under the automatic lockout after LOCKOUT_THRESHOLD failures. Shown to clients as `locked`
   * too (schemas/common.ts), but it holds no session back and takes no admin power: anyone
   * could otherwise disarm an admin by failing their logins.
   */
  lockedOut: boolean
  disabled: boolean
  mfa: MfaSummary
  createdAt: Date
}

/** Reads what second factors a user has; the MFA services provide it. */
export type MfaSummaryReader = (userId: string) => Promise<MfaSummary>

export function toProfile(
  row: UserRow,
  roles: string[],
  mfa: MfaSummary,
  lockedOut = false,
): UserProfile {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    emailVerified: row.email_verified_at !== null,
    phone: row.phone,
    phoneVerified: row.phone_verified_at !== null,
    roles,
    locked: row.locked_at !== null,
    lockedOut,
    disabled: row.disabled_at !== null,
    mfa,
    createdAt: new Date(row.created_at),
  }
}

export interface ProfileReader {
  get(userId: string): Promise<UserProfile | undefined>
  /** Call after any write that changes what a profile shows; other instances hear it too. */
  changed(userId: string): void
}

const ENTRIES = 10_000

/**
 * `GET /api/auth/me` runs on every page load of every client; three queries each time would
 * dominate its cost. Profiles are cached briefly and dropped on every local or announced
 * change; the short TTL bounds staleness if an announcement is lost.
 */
export function createProfileReader(deps: {
  db: Db
  clock: Clock
  bus: InvalidationBus
  mfaSummary: MfaSummaryReader
  ttlMs?: number
}): ProfileReader {
  const ttlMs = deps.ttlMs ?? 2_000
  const cache = new TtlCache<string, UserProfile>(ENTRIES)
  // Bumped on every change so a read that started before a change is not cached after it.
  const generation = new Map<string, number>()
  deps.bus.subscribe((m) => {
    if (m.kind === 'user_changed') {
      cache.delete(m.id)
      generation.set(m.id, (generation.get(m.id) ?? 0) + 1)
    }
  })

  return {
    async get(userId) {
      const now = deps.clock.now().getTime()
      const cached = cache.get(userId, now)
      if (cached) return cached
      const startedAt = generation.get(userId) ?? 0
      const row = await findUserById(deps.db, userId)
      if (!row) return undefined
      const [roles, mfa, lockedOut] = await Promise.all([
        rolesOfUser(deps.db, userId),
        deps.mfaSummary(userId),
        lockedOutAmong(deps.db, [userId], now),
      ])
      const profile = toProfile(row, roles, mfa, lockedOut.has(userId))
      if ((generation.get(userId) ?? 0) === startedAt) cache.set(userId, profile, now + ttlMs)
      return profile
    },
    changed(userId) {
      deps.bus.publish({ kind: 'user_changed', id: userId })
    },
  }
}
