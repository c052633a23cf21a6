// `npm run bench`: issue 3's speed report. Measures, in one run on this machine,
//   POST /api/auth/login throughput / raw argon2id rate of this process   (target ≥ 0.85)
//   GET /api/auth/me throughput / a bare Fastify JSON route               (target ≥ 0.5)
// with p50/p99 latencies, and what each variant scenario (e.g. with Redis) costs relative to
// its baseline. A report, not a test: exits 0 whether targets are met or missed.
//
// Servers run in this process; the load generator (autocannon) runs in a child process, so it
// has its own event loop but shares the machine's cores with the server. Each ratio's two
// sides are measured interleaved (A B B A, see stats.js) so load from other processes on the
// machine hits both alike.
//
// Knobs (environment): BENCH_DURATION (measured seconds per figure, default 8),
// BENCH_ROUNDS (A B B A rounds per pair, default 2), BENCH_WARMUP (seconds, default 2), BENCH_LOGIN_CONNECTIONS (default 4, also the argon2
// concurrency), BENCH_CONNECTIONS (for /me and /bare, default 10), BENCH_REDIS_URL (default
// redis://127.0.0.1:6379; "off" skips the Redis scenarios).
import { randomBytes } from 'node:crypto'
import { cpuAccounting } from './cpu-share.js'
import { hashRate } from './hash-rate.js'
import { runLoad, stopLoadGenerator } from './loadgen.js'
import { cleanupRedisPrefix, redisReachable } from './redis.js'
import { printReport } from './report.js'
import { interleaved } from './stats.js'
import { BENCH_USER, startBare, startGatehouse } from './targets.js'

const num = (name, fallback) => {
  const v = Number(process.env[name])
  return Number.isFinite(v) && v > 0 ? v : fallback
}
const settings = {
  durationSec: num('BENCH_DURATION', 8),
  warmupSec: num('BENCH_WARMUP', 2),
  loginConnections: num('BENCH_LOGIN_CONNECTIONS', 4),
  connections: num('BENCH_CONNECTIONS', 10),
  rounds: Math.round(num('BENCH_ROUNDS', 2)),
  redisUrl: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
}

/**
 * Each scenario is its own Gatehouse on a fresh SQLite file; `env` is merged into its
 * configuration. The first is measured against the yardsticks (argon2id, bare route); one
 * naming a `baseline` is measured against that scenario's server instead, giving e.g. issue
 * 5's "cost the limiter adds with Redis as a fraction of the run without it".
 */
const scenarios = [
  { name: 'sqlite', env: () => ({}) },
  {
    name: 'sqlite+redis',
    requires: 'redis',
    baseline: 'sqlite',
    env: () => ({
      REDIS_URL: settings.redisUrl,
      REDIS_PREFIX: `gh-bench-${randomBytes(6).toString('hex')}:`,
    }),
  },
]

// Everything here is bounded, but a hung server must not keep `npm run bench` alive.
const watchdog = setTimeout(() => {
  console.error('bench: gave up after 240 s')
  process.exit(1)
}, 240_000)
watchdog.unref()

const loginJob = (origin) => ({
  url: `${origin}/api/auth/login`,
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(BENCH_USER),
  connections: settings.loginConnections,
  settleSec: 0.5,
})

const getJob = (url, accessToken) => ({
  url,
  method: 'GET',
  headers: accessToken ? { authorization: `Bearer ${accessToken}` } : {},
  connections: settings.connections,
  settleSec: 0.1,
})

/** A slice-measuring function for one HTTP job; the first call is preceded by a warm-up. */
function target(job) {
  let warm = settings.warmupSec <= 0
  return async (durationSec) => {
    if (!warm) {
      await runLoad({ ...job, durationSec: settings.warmupSec })
      warm = true
    }
    return runLoad({ ...job, durationSec })
  }
}

function targetsOf(server) {
  return {
    login: target(loginJob(server.origin)),
    me: target(getJob(`${server.origin}/api/auth/me`, server.accessToken)),
  }
}

async function main() {
  const started = performance.now()
  const cpu = cpuAccounting()
  const redisOk = settings.redisUrl !== 'off' && (await redisReachable(settings.redisUrl))
  const argon2 = await hashRate({
    concurrency: settings.loginConnections,
    password: BENCH_USER.password,
  })
  const opened = []
  const servers = new Map()
  const results = []
  try {
    const bareServer = await startBare()
    opened.push(bareServer)
    const bare = target(getJob(`${bareServer.origin}/bare`))
    const d = settings.durationSec
    for (const scenario of scenarios) {
      if (scenario.requires === 'redis' && !redisOk) {
        results.push({ scenario, skipped: `Redis not reachable at ${settings.redisUrl}` })
        continue
      }
      const env = scenario.env()
      const server = await startGatehouse(env)
      opened.push({
        close: async () => {
          await server.close()
          if (env.REDIS_URL) await cleanupRedisPrefix(env.REDIS_URL, env.REDIS_PREFIX)
        },
      })
      const mine = targetsOf(server)
      servers.set(scenario.name, mine)
      const against = scenario.baseline && servers.get(scenario.baseline)
      if (scenario.baseline && !against) {
        results.push({ scenario, skipped: `baseline ${scenario.baseline} was not measured` })
        continue
      }
      const login = await interleaved(against?.login ?? argon2, mine.login, d, settings.rounds)
      const me = await interleaved(against?.me ?? bare, mine.me, d, settings.rounds)
      results.push({ scenario, redisStatus: server.redisStatus, login, me })
    }
  } finally {
    stopLoadGenerator()
    for (const s of opened.reverse()) await s.close()
  }
  printReport({
    settings,
    results,
    elapsedSec: (performance.now() - started) / 1000,
    cpu: cpu.stop(),
  })
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error('bench failed:', err)
    process.exit(1)
  },
)
