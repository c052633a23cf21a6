import { Type } from 'typebox'
import type { Services } from '../../container.js'
import { equalText } from '../../crypto/compare.js'
import { GatehouseError } from '../../services/errors.js'
import { bearerToken } from '../auth.js'
import type { App } from './types.js'

const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded'), Type.Literal('unavailable')]),
  database: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
  redis: Type.Union([Type.Literal('ok'), Type.Literal('unavailable'), Type.Literal('disabled')]),
  /** Present only while a signing key cannot be opened (it is skipped; an older key signs). */
  signing_keys: Type.Optional(Type.Literal('degraded')),
})

/** Liveness, readiness and Prometheus metrics (SPEC §4.11). */
export function opsRoutes(services: Services) {
  return async (app: App) => {
    app.get(
      '/healthz',
      { schema: { tags: ['ops'], response: { 200: Type.Object({ status: Type.Literal('ok') }) } } },
      async () => ({
        status: 'ok' as const,
      }),
    )

    app.get(
      '/readyz',
      { schema: { tags: ['ops'], response: { 200: Readiness, 503: Readiness } } },
      async (_request, reply) => {
        const database = await services.databaseStatus()
        const redis = services.redisStatus()
        if (database === 'unavailable') {
          return reply.code(503).send({ status: 'unavailable', database, redis })
        }
        if ((await services.keyRing.unusable()).length > 0) {
          return reply.send({ status: 'degraded', database, redis, signing_keys: 'degraded' })
        }
        return reply.send({ status: redis === 'unavailable' ? 'degraded' : 'ok', database, redis })
      },
    )

    const { metricsToken } = services.config.http
    app.get('/metrics', { schema: { tags: ['ops'], hide: true } }, async (request, reply) => {
      // The posture gauges tell an attacker how many admins lack a second factor: with
      // METRICS_TOKEN set, only the scraper holding it reads them.
      if (metricsToken !== undefined) {
        const token = bearerToken(request)
        if (token === undefined || !equalText(token, metricsToken))
          throw new GatehouseError('unauthorized', {
            detail: 'GET /metrics needs Authorization: Bearer <METRICS_TOKEN>',
          })
      }
      const registry = services.observability.registry
      return reply.type(registry.contentType).send(await registry.metrics())
    })
  }
}
