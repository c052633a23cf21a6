import type { FastifyRequest } from 'fastify'
import { principalOf } from '../../auth.js'
import { contextOf } from '../../context.js'

export const adminSecurity = [{ bearerAuth: [] }]
/** Every admin route can answer these, besides its own. */
export const adminProblems = [400, 401, 403] as const

/** The signed-in admin making a change, as the admin services record it in the audit log. */
export function actorOf(request: FastifyRequest) {
  return { actorId: principalOf(request).sub, context: contextOf(request) }
}
