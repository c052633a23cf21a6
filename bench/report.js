import { cpus } from 'node:os'

/** Issue 15's targets; `max` ones are met at or below the value, the others at or above. */
const TARGETS = {
  login: { min: 0.9, what: 'login throughput / raw argon2id verify' },
  queued: { min: 0.9, what: 'the same, twice the logins in flight (queued)' },
  cpu: { max: 3, unit: ' ms', what: 'CPU per login beyond the hash' },
  me: { min: 0.5, what: 'GET /me / bare Fastify route' },
  meRedis: { min: 0.45, what: 'GET /me / bare Fastify route, with REDIS_URL' },
  idle: { max: 1.5, what: 'idle RSS / bare Fastify idle RSS' },
  load: { max: 3, what: 'RSS under login load / bare Fastify idle RSS' },
}
const YARDSTICK = { login: 'argon2id', me: 'bare' }

const fmt = (n, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-')

function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)))
  const cell = (c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))
  return rows.map((r) => r.map(cell).join('  ')).join('\n')
}

const row = (label, conns, m) => [
  label,
  conns,
  fmt(m.rps),
  fmt(m.p50, 2),
  fmt(m.p99, 2),
  fmt(m.cpuPerOpMs, 2),
  fmt(m.otherCpuPerOpMs, 2),
  m.ok,
  m.failed,
]

/**
 * CPU per login beyond the hash: what a login spends outside the hashing threads, less what a
 * raw verification spends there (the hasher's own JavaScript). Where threads cannot be told
 * apart, the difference of the process's CPU per operation, which carries the hash's drift.
 */
function beyondTheHash({ a, b }) {
  const outside = b.otherCpuPerOpMs - a.otherCpuPerOpMs
  return Number.isFinite(outside) ? outside : b.cpuPerOpMs - a.cpuPerOpMs
}

function judge(key, value) {
  const t = TARGETS[key]
  if (!Number.isFinite(value)) return { target: '-', verdict: 'n/a' }
  const met = t.max !== undefined ? value <= t.max : value >= t.min
  const target = t.max !== undefined ? `≤ ${t.max}${t.unit ?? ''}` : `≥ ${t.min}`
  return { target, verdict: met ? 'met' : 'MISSED' }
}

/**
 * Prints every measurement, then the ratios, then each variant's cost, the memory figures,
 * the machine's load, and a closing summary of each figure against its target.
 */
export function printReport({ settings, ceiling, results, memory, elapsedSec, cpu: share }) {
  const lc = settings.loginConnections
  const c = settings.connections
  const rows = [
    [
      'measurement (pairs interleaved A B B A)',
      'conns',
      'req/s',
      'p50 ms',
      'p99 ms',
      'CPU ms/op',
      'not hashing',
      'ok',
      'failed',
    ],
  ]
  const ratios = [['ratio', 'value']]
  const summary = [['figure', 'value', 'target', 'verdict']]
  const judged = (label, key, value, digits = 2) => {
    const j = judge(key, value)
    summary.push([label, `${fmt(value, digits)}${TARGETS[key].unit ?? ''}`, j.target, j.verdict])
    return `${fmt(value, digits)}${TARGETS[key].unit ?? ''}  target ${j.target}  ${j.verdict}`
  }
  const direct = new Map()
  let ceilingNote
  if (ceiling) {
    const reach = ceiling.b.rps / ceiling.a.rps
    const beyond = beyondTheHash(ceiling)
    rows.push(
      row('argon2id verify, raw, in process', lc, ceiling.a),
      row('[bare] POST /api/auth/login (verify only)', lc, ceiling.b),
    )
    ratios.push(
      ['[bare] login / argon2id (the ceiling)', fmt(reach, 2)],
      ['[bare] CPU per login beyond the hash', `${fmt(beyond, 2)} ms`],
    )
    ceilingNote =
      `ceiling in this run: a bare Fastify login route that only verifies reaches ` +
      `${fmt(reach, 2)} of the raw rate, with ${fmt(beyond, 2)} ms of CPU beyond the hash`
  }
  for (const r of results) {
    if (r.skipped) continue
    const name = `[${r.scenario.name}]`
    const base = r.scenario.baseline && `[${r.scenario.baseline}]`
    rows.push(
      row(
        base ? `${base} POST /api/auth/login` : 'argon2id verify, raw, in process',
        lc,
        r.login.a,
      ),
      row(`${name} POST /api/auth/login`, lc, r.login.b),
      ...(r.queued
        ? [
            row('argon2id verify, raw, in process', lc, r.queued.a),
            row(`${name} POST /api/auth/login (queued)`, settings.queuedConnections, r.queued.b),
          ]
        : []),
      row(base ? `${base} GET /api/auth/me` : 'bare Fastify GET /bare', c, r.me.a),
      row(`${name} GET /api/auth/me`, c, r.me.b),
    )
    const cpuBeyond = beyondTheHash(r.login)
    if (!base) {
      const login = r.login.b.rps / r.login.a.rps
      const me = r.me.b.rps / r.me.a.rps
      direct.set(r.scenario.name, { login, me })
      ratios.push(
        [`${name} login / argon2id`, judged(`${name} ${TARGETS.login.what}`, 'login', login)],
        [
          `${name} login / argon2id, ${settings.queuedConnections} in flight`,
          judged(`${name} ${TARGETS.queued.what}`, 'queued', r.queued.b.rps / r.queued.a.rps),
        ],
        [
          `${name} CPU per login beyond the hash`,
          judged(`${name} ${TARGETS.cpu.what}`, 'cpu', cpuBeyond),
        ],
        [
          `${name} process CPU per login - per verify`,
          `${fmt(r.login.b.cpuPerOpMs - r.login.a.cpuPerOpMs, 2)} ms  (hash drift included)`,
        ],
        [`${name} me / bare`, judged(`${name} ${TARGETS.me.what}`, 'me', me)],
      )
      continue
    }
    for (const key of ['login', 'me']) {
      const share = r[key].b.rps / r[key].a.rps
      ratios.push([
        `${name} ${key} / ${base} ${key}`,
        `${fmt(share, 2)}  (cost ${fmt((1 - share) * 100)}%; redis ${r.redisStatus})`,
      ])
      const baseShare = direct.get(r.scenario.baseline)?.[key]
      if (baseShare === undefined) continue
      const derived = share * baseShare
      const tkey = key === 'me' ? 'meRedis' : 'login'
      ratios.push([
        `${name} ${key} / ${YARDSTICK[key]} (derived)`,
        judged(`${name} ${TARGETS[tkey].what} (derived)`, tkey, derived),
      ])
    }
    ratios.push([
      `${name} CPU per login / ${base}'s`,
      `${fmt(r.login.b.cpuPerOpMs, 2)} ms vs ${fmt(r.login.a.cpuPerOpMs, 2)} ms`,
    ])
  }
  summary.push([
    'GET /me / better-auth get-session',
    '-',
    '≥ 20',
    'n/a (no better-auth peer in bench/)',
  ])

  const cpu = cpus()
  console.log(
    `\nGatehouse bench — node ${process.version}, ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}; ` +
      `${settings.durationSec}s per figure in ${2 * settings.rounds} slices after ` +
      `${settings.warmupSec}s warm-up (logins ${settings.loginWarmupSec}s); ` +
      `libuv pool ${process.env.UV_THREADPOOL_SIZE ?? 4}; ` +
      'load: autocannon in a child process (shares the cores)\n',
  )
  console.log(table(rows))
  console.log(
    '\nCPU ms/op: CPU time of the bench process (all threads, the server in it) per request ' +
      'it finished, or per argon2id verification; not hashing: the part of it outside the ' +
      'threads that compute argon2id',
  )
  console.log(`\n${table(ratios)}`)
  for (const r of results) {
    if (r.skipped) {
      console.log(`[${r.scenario.name}] skipped: ${r.skipped}`)
      continue
    }
    const all = {
      login: r.login.b,
      me: r.me.b,
      'login yardstick': r.login.a,
      'me yardstick': r.me.a,
    }
    for (const [key, m] of Object.entries(all)) {
      if (m.failed > 0) {
        console.log(
          `warning: [${r.scenario.name}] ${key} failures: ${JSON.stringify(m.statusCodes)}`,
        )
      }
    }
  }

  console.log('\nmemory (each server in a process of its own; SQLite, NODE_ENV=production)')
  if (memory.unit)
    console.log(`Gatehouse started as ops/gatehouse.service starts it: ${memory.unit}`)
  if (memory.error) {
    console.log(`  not measured: ${memory.error}`)
    summary.push([TARGETS.idle.what, '-', '≤ 1.5', 'n/a'], [TARGETS.load.what, '-', '≤ 3', 'n/a'])
  } else {
    console.log(
      table([
        ['process', 'RSS MiB'],
        ['bare Fastify, idle', fmt(memory.bareIdle)],
        ['Gatehouse, idle after start', fmt(memory.idle)],
        [
          `Gatehouse, peak under login load (${settings.memoryConnections} in flight, ` +
            `${memory.logins} logins${memory.failed ? `, ${memory.failed} failed` : ''})`,
          fmt(memory.underLoad),
        ],
      ]),
    )
    judged(TARGETS.idle.what, 'idle', memory.idle / memory.bareIdle)
    judged(TARGETS.load.what, 'load', memory.underLoad / memory.bareIdle)
  }

  const pct = (x) => `${fmt(x * 100, 0)}%`
  console.log(
    `\ntotal ${fmt(elapsedSec)} s; machine busy ${pct(share.busy)}, steal ${pct(share.steal)}; ` +
      `CPU used by the bench ${pct(share.bench)}, by other processes ${pct(share.others)}`,
  )
  if (share.others > 0.1 || share.steal > 0.05) {
    console.log(
      'warning: other processes (or the hypervisor) took a sizeable share of the CPU; ratios ' +
        'are interleaved to resist it, but rerun on a quiet machine for firm figures',
    )
  }
  console.log(`\nsummary (issue 15's targets)\n${table(summary)}`)
  if (ceilingNote) console.log(ceilingNote)
}
