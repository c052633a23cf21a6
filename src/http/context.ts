import type { FastifyRequest } from 'fastify'
import type { RequestContext } from '../services/audit/audit-log.js'

export function contextOf(request: FastifyRequest): RequestContext {
  const ua = request.headers['user-agent']
  return { ip: request.ip ?? null, userAgent: typeof ua === 'string' ? ua : null }
}
