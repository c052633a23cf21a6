import type { Db } from '../db.js'
import { precompiledFor } from '../precompiled.js'
import { inTransaction } from '../transactions.js'

export interface RoleRecord {
  name: string
  permissions: string[]
}

export async function rolesOfUser(db: Db, userId: string): Promise<string[]> {
  const rows = await rolesOfUserQuery(db, { userId })
  return rows.map((r) => r.role_name)
}

// Every login and token refresh reads them: built once (precompiled.ts).
const rolesOfUserQuery = precompiledFor(['userId'], (db, { userId }: { userId: string }) =>
  db
    .selectFrom('user_roles')
    .select('role_name')
    .where('user_id', '=', userId)
    .orderBy('role_name'),
)

export async function rolesOfUsers(
  db: Db,
  userIds: readonly string[],
): Promise<Map<string, string[]>> {
  const byUser = new Map<string, string[]>(userIds.map((id) => [id, []]))
  if (userIds.length === 0) return byUser
  const rows = await db
    .selectFrom('user_roles')
    .select(['user_id', 'role_name'])
    .where('user_id', 'in', userIds)
    .orderBy('role_name')
    .execute()
  for (const r of rows) byUser.get(r.user_id)?.push(r.role_name)
  return byUser
}

export async function listRoles(db: Db): Promise<RoleRecord[]> {
  const rows = await db
    .selectFrom('roles')
    .select(['name', 'permissions'])
    .orderBy('name')
    .execute()
  return rows.map((r) => ({ name: r.name, permissions: JSON.parse(r.permissions) as string[] }))
}

export async function existingRoleNames(db: Db, names: readonly string[]): Promise<Set<string>> {
  if (names.length === 0) return new Set()
  const rows = await db.selectFrom('roles').select('name').where('name', 'in', names).execute()
  return new Set(rows.map((r) => r.name))
}

export async function setUserRoles(
  db: Db,
  userId: string,
  roles: readonly string[],
): Promise<void> {
  await inTransaction(db, async (trx) => {
    await trx.deleteFrom('user_roles').where('user_id', '=', userId).execute()
    if (roles.length > 0) {
      await trx
        .insertInto('user_roles')
        .values(roles.map((role_name) => ({ user_id: userId, role_name })))
        .execute()
    }
  })
}

export async function insertRole(db: Db, role: RoleRecord, now: number): Promise<void> {
  await db
    .insertInto('roles')
    .values({ name: role.name, permissions: JSON.stringify(role.permissions), created_at: now })
    .execute()
}
