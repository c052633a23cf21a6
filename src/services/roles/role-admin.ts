import type { Db } from '../../store/db.js'
import { withConflict } from '../../store/errors.js'
import { insertRole, listRoles, type RoleRecord } from '../../store/repositories/roles.js'
import { actorEvent, type AuditLog, type RequestContext } from '../audit/audit-log.js'
import { GatehouseError } from '../errors.js'
import type { Clock } from '../ports.js'
import type { PermissionResolver } from './permissions.js'

export type RoleAdmin = ReturnType<typeof createRoleAdmin>

// Lower case only, so `Admin` can never sit next to `admin` looking like it.
export const ROLE_NAME = '^[a-z][a-z0-9_.-]{0,63}$'
export const PERMISSION = '^(\\*|[a-z][a-z0-9_.-]{0,62}:(\\*|[a-z][a-z0-9_.-]{0,62}))$'
const roleName = new RegExp(ROLE_NAME)
const permission = new RegExp(PERMISSION)

export function createRoleAdmin(deps: {
  db: Db
  clock: Clock
  audit: AuditLog
  permissions: PermissionResolver
}) {
  const { db, clock, audit, permissions } = deps
  return {
    list(): Promise<RoleRecord[]> {
      return listRoles(db)
    },

    async create(
      role: RoleRecord,
      by: { actorId: string | null; context?: RequestContext },
    ): Promise<RoleRecord> {
      if (!roleName.test(role.name)) {
        throw new GatehouseError('validation_error', {
          detail: 'name: must be 1–64 lower-case letters, digits, ".", "_" or "-"',
        })
      }
      const bad = role.permissions.find((p) => !permission.test(p))
      if (bad !== undefined) {
        throw new GatehouseError('validation_error', {
          detail: 'permissions: each must be "*", "area:*" or "area:action"',
        })
      }
      const created = { name: role.name, permissions: [...new Set(role.permissions)] }
      // With its audit event or not at all: permissions no one can account for are an
      // intruder's way in.
      await audit.change(async (trx, record) => {
        // Named like a validation detail, so a form shows it beside the name (SPEC §7).
        await withConflict(`name: a role named ${role.name} already exists`, () =>
          insertRole(trx, created, clock.now().getTime()),
        )
        await record(
          actorEvent('role_created', by, { role: created.name, permissions: created.permissions }),
        )
      })
      permissions.changed()
      return created
    },
  }
}
