// `npm run bench`: issues 3 and 15's speed and memory report. Measures, in one run on this
// machine, each figure a ratio of two measurements taken in the same run:
//   POST /api/auth/login throughput / raw argon2id verifications of this process (≥ 0.9),
//     with as many logins in flight as argon2 runs at once, and with twice as many (queued)
//   CPU per login beyond the hash (process CPU per login - per verification)    (≤ 3 ms)
//   GET /api/auth/me throughput / a bare Fastify JSON route                      (≥ 0.5)
//   idle RSS / a bare Fastify process's idle RSS                                 (≤ 1.5)
//   RSS under login load / a bare Fastify process's idle RSS                     (≤ 3)
// with p50/p99 latencies, what each variant scenario (e.g. with Redis) costs relative to
// its baseline, and the machine's busy and steal shares. A report, not a test: exits 0
// whether targets are met or not.
//
// Servers run in this process, except for the memory figures (each server in a process of
// its own, memory.js); the load generator (autocannon) runs in a child process, so it has
// its own event loop but shares the machine's cores with the server. Each ratio's two sides
// are measured interleaved (A B B A, see stats.js) so load from other processes on the
// machine hits both alike.
//
// Knobs (environment): BENCH_DURATION (measured seconds per figure, default 8),
// BENCH_ROUNDS (A B B A rounds per pair, default 2), BENCH_WARMUP (seconds, default 2),
// BENCH_LOGIN_WARMUP (seconds of logins before the first login slice, default 30),
// BENCH_LOGIN_CONNECTIONS (default: the cores, also the argon2 concurrency),
// BENCH_QUEUED_CONNECTIONS (logins in flight for the queued figure, default twice that),
// BENCH_CONNECTIONS
// (for /me and /bare, default 10), BENCH_REDIS_URL (default redis://127.0.0.1:6379; "off"
// skips the Redis scenarios), BENCH_DB (postgres, mysql or both, comma-separated: the same
// figures on those databases too; see databases.js for BENCH_POSTGRES_URL / BENCH_MYSQL_URL),
// BENCH_MEMORY_CONNECTIONS (logins in flight for the RSS under load, default 4 = libuv's
// threadpool), BENCH_MEMORY_SECONDS (default 6), BENCH_MEMORY=off to skip the memory figures.
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { cpuAccounting } from './cpu-share.js'
import { hashRate } from './hash-rate.js'
import { runLoad, stopLoadGenerator } from './loadgen.js'
import { memoryFigures } from './memory.js'
import { cleanupRedisPrefix, redisReachable } from './redis.js'
import { printReport } from './report.js'
import { cpuMeter, interleaved } from './stats.js'
import { startBare } from './bare.js'
import { BENCH_USER, startGatehouse } from './targets.js'

const num = (name, fallback) => {
  const v = Number(process.env[name])
  return Number.isFinite(v) && v > 0 ? v : fallback
}
const settings = {
  durationSec: num('BENCH_DURATION', 8),
  warmupSec: num('BENCH_WARMUP', 2),
  // V8 keeps optimizing a login's code for about a minute at ~45 logins a second (278
  // functions over the first 48 s, still ~45 per 8 s after 40 s), on its compiler threads
  // (0.6 ms of CPU per login after 8 s, 0.15 after 150 s) and in a main thread still running
  // baseline code: after 8 s, a login's CPU beyond its hash read ~0.7 ms above a warm server's.
  loginWarmupSec: num('BENCH_LOGIN_WARMUP', 30),
  loginConnections: num('BENCH_LOGIN_CONNECTIONS', availableParallelism()),
  queuedConnections: num('BENCH_QUEUED_CONNECTIONS', 2 * availableParallelism()),
  connections: num('BENCH_CONNECTIONS', 10),
  rounds: Math.round(num('BENCH_ROUNDS', 2)),
  redisUrl: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
  databases: [
    ...new Set(
      (process.env.BENCH_DB ?? '')
        .split(',')
        .map((d) => d.trim().toLowerCase())
        .flatMap((d) => (d === 'all' ? ['postgres', 'mysql'] : d === 'mariadb' ? ['mysql'] : [d]))
        .filter((d) => d !== '' && d !== 'sqlite'),
    ),
  ],
  memory: process.env.BENCH_MEMORY !== 'off',
  memoryConnections: num('BENCH_MEMORY_CONNECTIONS', 4),
  memorySec: num('BENCH_MEMORY_SECONDS', 6),
}

/**
 * Each scenario is its own Gatehouse on a fresh SQLite file; `env` is merged into its
 * configuration. The first is measured against the yardsticks (argon2id, bare route); one
 * naming a `baseline` is measured against that scenario's server instead, giving e.g. issue
 * 5's "cost the limiter adds with Redis as a fraction of the run without it".
 */
const scenarios = [
  { name: 'sqlite', database: 'sqlite', env: () => ({}) },
  {
    name: 'sqlite+redis',
    requires: 'redis',
    baseline: 'sqlite',
    env: () => ({
      REDIS_URL: settings.redisUrl,
      REDIS_PREFIX: `gh-bench-${randomBytes(6).toString('hex')}:`,
    }),
  },
  // BENCH_DB: the same figures against the yardsticks, on a server database.
  ...settings.databases.map((database) => ({ name: database, database, env: () => ({}) })),
]

// Everything here is bounded, but a hung server must not keep `npm run bench` alive.
const loginTargets = 3 + settings.databases.length // the ceiling, sqlite, sqlite+redis, …
const queuedTargets = 1 + settings.databases.length // sqlite, …
const watchdogSec =
  180 +
  loginTargets * (settings.loginWarmupSec + 4 * settings.durationSec) +
  queuedTargets * (settings.warmupSec + 4 * settings.durationSec) +
  (settings.memory ? 60 : 0)
const watchdog = setTimeout(() => {
  console.error(`bench: gave up after ${watchdogSec} s`)
  process.exit(1)
}, watchdogSec * 1000)
watchdog.unref()

const loginJob = (origin, connections = settings.loginConnections) => ({
  url: `${origin}/api/auth/login`,
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(BENCH_USER),
  connections,
  settleSec: 0.5,
})

const getJob = (url, accessToken) => ({
  url,
  method: 'GET',
  headers: accessToken ? { authorization: `Bearer ${accessToken}` } : {},
  connections: settings.connections,
  settleSec: 0.1,
})

/**
 * A slice-measuring function for one HTTP job; the first call is preceded by a warm-up. For a
 * server in this process (`server.completed`), the slice also carries the process's CPU time
 * and the responses the server finished, both up to the end of the settle pause, so requests
 * the load generator abandoned at the end are counted with the CPU they used.
 */
function target(job, server, warmupSec = settings.warmupSec) {
  let warm = warmupSec <= 0
  return async (durationSec) => {
    if (!warm) {
      await runLoad({ ...job, durationSec: warmupSec })
      warm = true
    }
    const cpu = cpuMeter()
    const done0 = server?.completed()
    const s = await runLoad({ ...job, durationSec })
    if (!server) return s
    return { ...s, ...cpu.stop(), ops: server.completed() - done0 }
  }
}

function targetsOf(server) {
  return {
    login: target(loginJob(server.origin), server, settings.loginWarmupSec),
    // More logins than argon2 runs at once: the extra ones wait in the hasher's queue, so a
    // core is never left idle while a login's request, database work and response go by.
    queued: target(loginJob(server.origin, settings.queuedConnections), server),
    me: target(getJob(`${server.origin}/api/auth/me`, server.accessToken), server),
  }
}

async function main() {
  const started = performance.now()
  const cpu = cpuAccounting()
  const redisOk = settings.redisUrl !== 'off' && (await redisReachable(settings.redisUrl))
  const memory = settings.memory
    ? await memoryFigures({
        settleSec: 2,
        loadSec: settings.memorySec,
        loginJob: (origin) => loginJob(origin, settings.memoryConnections),
      }).catch((err) => ({ error: String(err?.message ?? err) }))
    : { error: 'skipped (BENCH_MEMORY=off)' }
  const argon2 = await hashRate({
    concurrency: settings.loginConnections,
    password: BENCH_USER.password,
  })
  const opened = []
  const servers = new Map()
  const results = []
  let ceiling
  try {
    const bareServer = await startBare({ verify: argon2.verify })
    opened.push(bareServer)
    const bare = target(getJob(`${bareServer.origin}/bare`))
    const d = settings.durationSec
    // What an HTTP login that only verifies reaches here: the ceiling for the login figures.
    ceiling = await interleaved(
      argon2,
      target(loginJob(bareServer.origin), bareServer, settings.loginWarmupSec),
      d,
      settings.rounds,
    )
    for (const scenario of scenarios) {
      if (scenario.requires === 'redis' && !redisOk) {
        results.push({ scenario, skipped: `Redis not reachable at ${settings.redisUrl}` })
        continue
      }
      const env = scenario.env()
      let server
      try {
        server = await startGatehouse(env, { database: scenario.database })
      } catch (err) {
        // A server database that is not there skips its scenario, not the whole report.
        if (!scenario.database || scenario.database === 'sqlite') throw err
        results.push({
          scenario,
          skipped: `could not start on ${scenario.database}: ${err.message}`,
        })
        continue
      }
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
      const queued = against
        ? undefined
        : await interleaved(argon2, mine.queued, d, settings.rounds)
      const me = await interleaved(against?.me ?? bare, mine.me, d, settings.rounds)
      results.push({ scenario, redisStatus: server.redisStatus, login, queued, me })
    }
  } finally {
    stopLoadGenerator()
    for (const s of opened.reverse()) await s.close()
  }
  printReport({
    settings,
    ceiling,
    results,
    memory,
    elapsedSec: (performance.now() - started) / 1000,
    cpu: cpu.stop(),
  })
}

// Gatehouse is deployed with libuv's pool as large as the cores (ops/gatehouse.service), as the
// memory figures' servers run: the servers in this process, and the raw rate they are held
// against, run so too (4 threads on 2 cores read 0.01–0.03 lower in both login figures, over
// four interleaved runs). libuv reads the size at start, so this process runs again with it.
if (process.env.UV_THREADPOOL_SIZE === undefined) {
  const again = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, UV_THREADPOOL_SIZE: String(availableParallelism()) },
  })
  process.exit(again.status ?? 1)
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error('bench failed:', err)
    process.exit(1)
  },
)
