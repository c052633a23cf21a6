import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import type { RouteLimits } from '../services/lockout/route-limits.js'
import { GatehouseError } from '../services/errors.js'
import type { SecurityMetrics } from '../services/metrics.js'
import './rate-limit-config.js'

/**
 * The one hook behind `config: { rateLimit: '<name>' }`: a route-level preHandler, so it
 * runs after the route's own authentication and can limit per user as well as per IP
 * (`request.ip`, which honours X-Forwarded-For only as far as TRUST_PROXY allows). Routes
 * without the config pay nothing, not even a lookup.
 */
export function installRateLimits(
  app: FastifyInstance,
  limits: RouteLimits,
  metrics: SecurityMetrics,
): void {
  app.addHook('onRoute', (route) => {
    const name = route.config?.rateLimit
    if (name === undefined) return
    if (!limits.has(name)) {
      throw new Error(`${route.url}: no route limit named "${name}"`)
    }
    const check: preHandlerAsyncHookHandler = async (request: FastifyRequest) => {
      const verdict = await limits.check(name, {
        ip: request.ip ?? null,
        userId: request.principal?.sub ?? null,
      })
      if (verdict.ok) return
      metrics.rateLimited(name)
      throw new GatehouseError('rate_limited', {
        detail: 'too many requests; try again later',
        retryAfterSec: verdict.retryAfterSec,
      })
    }
    const existing = route.preHandler
    route.preHandler = existing === undefined ? [check] : [...[existing].flat(), check]
  })
}
