import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { QueueLoad } from '../crypto/work-queue.js'
import type { SecurityMetrics } from '../services/metrics.js'
import type { PostureSnapshot } from '../services/posture/posture.js'

export interface Observability {
  registry: Registry
  security: SecurityMetrics
  observeRequest(method: string, route: string, status: number, durationSec: number): void
  /** Registers the posture gauges of SPEC §4.15, read from `read` at each scrape. */
  watchPosture(read: () => Promise<PostureSnapshot | undefined>): void
  /** Registers the password hasher's gauges, read from `load` at each scrape. */
  watchHasher(load: () => QueueLoad): void
}

/** Sets a labelled gauge to exactly these series: a role that disappeared stops reporting. */
function setAll(gauge: Gauge<string>, label: string, values: Iterable<[string, number]>): void {
  gauge.reset()
  for (const [value, n] of values) gauge.set({ [label]: value }, n)
}

const MFA_METHODS = ['totp', 'webauthn', 'email', 'sms', 'backup_code'] as const

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
    watchPosture(read) {
      const gauge = (
        name: string,
        help: string,
        labelNames: string[],
        fill: (g: Gauge<string>, s: PostureSnapshot) => void,
      ) =>
        new Gauge({
          name,
          help,
          labelNames,
          registers: [registry],
          // Every scrape asks; `read` answers from memory unless 60 s have passed.
          async collect() {
            const s = await read()
            if (s) fill(this, s)
          },
        })
      gauge('gatehouse_users', 'Users by role', ['role'], (g, s) =>
        setAll(g, 'role', s.usersByRole),
      )
      gauge('gatehouse_users_with_mfa', 'Users with each second factor', ['method'], (g, s) =>
        setAll(
          g,
          'method',
          MFA_METHODS.map((m) => [m, s.usersWithFactor[m] ?? 0]),
        ),
      )
      gauge(
        'gatehouse_users_without_mfa',
        'Users with no second factor, by role',
        ['role'],
        (g, s) =>
          setAll(
            g,
            'role',
            [...s.usersByRole.keys()].map((role) => [
              role,
              s.usersWithoutFactorByRole.get(role) ?? 0,
            ]),
          ),
      )
      gauge(
        'gatehouse_users_low_backup_codes',
        'Users with fewer than 3 unused backup codes left',
        [],
        (g, s) => g.set(s.usersLowOnBackupCodes),
      )
      gauge('gatehouse_users_sms_only', 'Users whose only second factor is SMS', [], (g, s) =>
        g.set(s.usersSmsOnly),
      )
      gauge(
        'gatehouse_sessions_active',
        'Sessions not ended whose refresh token is valid',
        [],
        (g, s) => g.set(s.sessionsActive),
      )
    },
    watchHasher(load) {
      // Saturation: logins wait for a core to hash on; a growing line means too few cores.
      new Gauge({
        name: 'gatehouse_password_hashes',
        help: 'Password hashes running and waiting for a core',
        labelNames: ['state'],
        registers: [registry],
        collect() {
          const { running, waiting } = load()
          this.set({ state: 'running' }, running)
          this.set({ state: 'waiting' }, waiting)
        },
      })
      new Counter({
        name: 'gatehouse_password_hashes_refused_total',
        help: 'Password hashes refused: the line was full (busy), or the client left it (abandoned)',
        labelNames: ['reason'],
        registers: [registry],
        collect() {
          this.reset()
          for (const [reason, n] of Object.entries(load().refused)) this.inc({ reason }, n)
        },
      })
    },
    observeRequest(method, route, status, durationSec) {
      requests.inc({ method, route, status: String(status) })
      duration.observe({ method, route }, durationSec)
    },
  }
}
