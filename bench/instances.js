// `node bench/instances.js` (after `npm run build`): how login and GET /me throughput grow
// from one Gatehouse instance to two on one PostgreSQL database and one Redis, for the
// README's capacity table (issue 15). Each instance is a process of its own started as
// ops/gatehouse.service starts it; each gets its own load generator (autocannon in a child
// process) with BENCH_LOGIN_CONNECTIONS logins (default: the cores) and BENCH_CONNECTIONS
// GET /me requests (10) in flight, all at once; the figures are the sums over the instances.
// On a machine whose cores the database, Redis and the load generators share with the
// instances, this shows what a second instance adds there, not what it adds on its own host.
import { fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { freshDatabase, POSTGRES_URL } from './databases.js'
import { rssMiB, startServer, unitSettings } from './memory.js'
import { BENCH_USER } from './targets.js'

const num = (name, fallback) => {
  const v = Number(process.env[name])
  return Number.isFinite(v) && v > 0 ? v : fallback
}
const durationSec = num('BENCH_DURATION', 8)
const loginConnections = num('BENCH_LOGIN_CONNECTIONS', availableParallelism())
const meConnections = num('BENCH_CONNECTIONS', 10)
const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'

function loadGenerator() {
  const child = fork(new URL('./load.js', import.meta.url), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
  })
  return {
    run: (job) =>
      new Promise((resolve, reject) => {
        child.once('message', (msg) =>
          msg.slice ? resolve(msg.slice) : reject(new Error(msg.error)),
        )
        child.send(job)
      }),
    stop: () => child.disconnect(),
  }
}

/** Client connections PostgreSQL holds to the bench's database, the counting one excluded. */
async function postgresConnections() {
  const { default: pg } = await import('pg')
  const client = new pg.Client({ connectionString: POSTGRES_URL })
  await client.connect()
  try {
    const { rows } = await client.query(
      `select count(*)::int as n from pg_stat_activity
        where datname = current_database() and backend_type = 'client backend' and pid <> pg_backend_pid()`,
    )
    return rows[0].n
  } finally {
    await client.end()
  }
}

async function measure(instances) {
  const store = await freshDatabase('postgres')
  const unit = unitSettings()
  const env = {
    ...unit.env,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: `gh-inst-${randomBytes(6).toString('hex')}:`,
  }
  const servers = []
  const generators = []
  try {
    for (let i = 0; i < instances; i++) {
      const server = startServer('gatehouse', { env, execArgv: unit.execArgv, args: [store.url] })
      servers.push(server)
      server.origin = (await server.ready).origin
      server.accessToken = await server.prepare({ registered: i > 0 })
      generators.push(loadGenerator())
    }
    const loginJob = (s) => ({
      url: `${s.origin}/api/auth/login`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(BENCH_USER),
      connections: loginConnections,
    })
    const meJob = (s) => ({
      url: `${s.origin}/api/auth/me`,
      method: 'GET',
      headers: { authorization: `Bearer ${s.accessToken}` },
      connections: meConnections,
    })
    const all = async (job, seconds) => {
      const slices = await Promise.all(
        servers.map((s, i) => generators[i].run({ ...job(s), durationSec: seconds })),
      )
      return {
        perSecond: slices.reduce((sum, x) => sum + x.ok / x.seconds, 0),
        failed: slices.reduce((sum, x) => sum + x.failed, 0),
      }
    }
    await all(loginJob, 2) // warm-up
    let peakConnections = 0
    const counting = setInterval(() => {
      postgresConnections().then(
        (n) => (peakConnections = Math.max(peakConnections, n)),
        () => {},
      )
    }, 500)
    const logins = await all(loginJob, durationSec)
    const rss = servers.map((s) => rssMiB(s.child.pid))
    await all(meJob, 2)
    const me = await all(meJob, durationSec)
    clearInterval(counting)
    return { instances, logins, me, rss, connections: peakConnections }
  } finally {
    for (const g of generators) g.stop()
    for (const s of servers) await s.stop()
    await store.drop()
  }
}

const rows = []
for (const n of [1, 2]) rows.push(await measure(n))
const fmt = (v, d = 0) => v.toFixed(d).padStart(9)
console.log(
  `\nGatehouse instances on one PostgreSQL and one Redis (${availableParallelism()} cores shared by all; ` +
    `${loginConnections} logins and ${meConnections} GET /me in flight per instance, ${durationSec} s each)\n`,
)
console.log('instances  logins/s  GET /me req/s  RSS MiB each   PostgreSQL connections')
for (const r of rows) {
  const failed = r.logins.failed + r.me.failed
  console.log(
    `${String(r.instances).padStart(9)} ${fmt(r.logins.perSecond, 1)} ${fmt(r.me.perSecond).padStart(14)}  ` +
      `${r.rss
        .map((x) => x.toFixed(0))
        .join(' / ')
        .padStart(12)}  ${String(r.connections).padStart(10)}` +
      (failed ? `   (${failed} failed)` : ''),
  )
}
const [one, two] = rows
console.log(
  `\n2 instances / 1: logins ×${(two.logins.perSecond / one.logins.perSecond).toFixed(2)}, ` +
    `GET /me ×${(two.me.perSecond / one.me.perSecond).toFixed(2)}`,
)
