import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { SecurityMetrics } from '../services/metrics.js'

export interface Observability {
  registry: Registry
  security: SecurityMetrics
  observeRequest(method: string, route: string, status: number, durationSec: number): void
}

/** One registry per app instance, so several apps in one process (tests) never collide. */
export function createObservability(opts: { defaultMetrics: boolean }): Observability {
  const registry = new Registry()
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'gatehouse_' })
  const requests = new Counter({
    name: 'gatehouse_http_requests_total',
    help: 'HTTP requests by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  })
  const duration = new Histogram({
    name: 'gatehouse_http_request_duration_seconds',
    help: 'HTTP request duration',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  })
  const logins = new Counter({
    name: 'gatehouse_logins_total',
    help: 'Completed password logins by outcome',
    labelNames: ['outcome'] as const,
    registers: [registry],
  })
  const mfa = new Counter({
    name: 'gatehouse_mfa_verifications_total',
    help: 'Second-factor verifications by method and outcome',
    labelNames: ['method', 'outcome'] as const,
    registers: [registry],
  })
  const limited = new Counter({
    name: 'gatehouse_rate_limited_total',
    help: 'Requests refused by a rate limiter',
    labelNames: ['limit'] as const,
    registers: [registry],
  })
  // Exported at zero so dashboards and alerts see the series before the first event.
  for (const outcome of ['success', 'failure']) logins.inc({ outcome }, 0)

  return {
    registry,
    security: {
      login: (outcome) => logins.inc({ outcome }),
      mfaVerification: (method, outcome) => mfa.inc({ method, outcome }),
      rateLimited: (limit) => limited.inc({ limit }),
    },
    observeRequest(method, route, status, durationSec) {
      requests.inc({ method, route, status: String(status) })
      duration.observe({ method, route }, durationSec)
    },
  }
}
