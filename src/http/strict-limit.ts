import type { FastifyInstance, FastifyRequest, preValidationAsyncHookHandler } from 'fastify'
import { GatehouseError } from '../services/errors.js'

const DIGITS = /^[0-9]+$/

/**
 * A list's `limit` (SPEC §3: 1–100) must be written as digits. Its schema says integer, but
 * the query string is converted before it is checked, and the conversion read `1.5` as 1 and
 * `0x10` as 16. So the raw value is checked first, in a route-level hook that runs after the
 * route's own credential checks (a stranger still gets 401, not the schema).
 */
export function installStrictLimits(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const query = route.schema?.querystring as { properties?: object } | undefined
    if (query?.properties === undefined || !('limit' in query.properties)) return
    const existing = route.preValidation
    route.preValidation = existing === undefined ? [digitsOnly] : [...[existing].flat(), digitsOnly]
  })
}

const digitsOnly: preValidationAsyncHookHandler = async (request: FastifyRequest) => {
  const { limit } = request.query as { limit?: unknown }
  if (typeof limit === 'string' && !DIGITS.test(limit))
    throw new GatehouseError('validation_error', {
      detail: 'querystring.limit: must be a whole number from 1 to 100',
    })
}
