import type { Db } from '../../store/db.js'
import { listRoles } from '../../store/repositories/roles.js'
import type { InvalidationBus } from '../cache/invalidation.js'
import type { Clock } from '../ports.js'

export type Grant = { allowed: false } | { allowed: true; needsMfa: boolean }

export interface PermissionResolver {
  /**
   * Whether these roles grant `permission`, and whether the grant needs an MFA-verified token:
   * it does when every role that grants it is one of REQUIRE_MFA_FOR_ROLES.
   */
  grant(roles: readonly string[], permission: string): Promise<Grant>
  /** Drops the cached role table (after a role is created); other instances hear it too. */
  changed(): void
}

/** `*` grants everything, `products:*` every products permission, otherwise exact names. */
export function permits(granted: readonly string[], permission: string): boolean {
  const area = permission.split(':')[0]
  return granted.some((g) => g === '*' || g === permission || g === `${area}:*`)
}

/**
 * Every protected request resolves its token's roles to permissions; the role table is tiny
 * and changes rarely, so it is read once and kept for a few seconds (dropped at once on a
 * local or announced change).
 */
export function createPermissionResolver(deps: {
  db: Db
  clock: Clock
  bus: InvalidationBus
  mfaRoles: readonly string[]
  ttlMs?: number
}): PermissionResolver {
  const ttlMs = deps.ttlMs ?? 5_000
  let table: { map: Map<string, string[]>; expiresAtMs: number } | undefined
  let generation = 0
  deps.bus.subscribe((m) => {
    if (m.kind === 'roles_changed') {
      table = undefined
      generation++
    }
  })

  async function roleTable(): Promise<Map<string, string[]>> {
    const nowMs = deps.clock.now().getTime()
    if (table && table.expiresAtMs > nowMs) return table.map
    const startedAt = generation
    const map = new Map((await listRoles(deps.db)).map((r) => [r.name, r.permissions]))
    if (generation === startedAt) table = { map, expiresAtMs: nowMs + ttlMs }
    return map
  }

  return {
    async grant(roles, permission) {
      const map = await roleTable()
      const granting = roles.filter((r) => permits(map.get(r) ?? [], permission))
      if (granting.length === 0) return { allowed: false }
      return { allowed: true, needsMfa: granting.every((r) => deps.mfaRoles.includes(r)) }
    },
    changed() {
      deps.bus.publish({ kind: 'roles_changed' })
    },
  }
}
