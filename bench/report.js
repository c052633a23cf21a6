import { cpus } from 'node:os'

const TARGETS = { login: 0.85, me: 0.5 }
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
  m.ok,
  m.failed,
]

const verdict = (value, target) =>
  `${fmt(value, 2)}  target ≥ ${target}  ${value >= target ? 'PASS' : 'MISS'}`

/** Prints every figure, then the ratios the issue asks for, then each variant's cost. */
export function printReport({ settings, results, elapsedSec, cpu: share }) {
  const lc = settings.loginConnections
  const c = settings.connections
  const rows = [
    [
      'measurement (pairs interleaved A B B A)',
      'conns',
      'req/s',
      'p50 ms',
      'p99 ms',
      'ok',
      'failed',
    ],
  ]
  const ratios = [['ratio', 'value']]
  const direct = new Map()
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
      row(base ? `${base} GET /api/auth/me` : 'bare Fastify GET /bare', c, r.me.a),
      row(`${name} GET /api/auth/me`, c, r.me.b),
    )
    for (const key of ['login', 'me']) {
      const share = r[key].b.rps / r[key].a.rps
      if (!base) {
        direct.set(r.scenario.name, { ...direct.get(r.scenario.name), [key]: share })
        ratios.push([`${name} ${key} / ${YARDSTICK[key]}`, verdict(share, TARGETS[key])])
        continue
      }
      ratios.push([
        `${name} ${key} / ${base} ${key}`,
        `${fmt(share, 2)}  (cost ${fmt((1 - share) * 100)}%; redis ${r.redisStatus})`,
      ])
      const baseShare = direct.get(r.scenario.baseline)?.[key]
      if (baseShare !== undefined) {
        ratios.push([
          `${name} ${key} / ${YARDSTICK[key]} (derived)`,
          verdict(share * baseShare, TARGETS[key]),
        ])
      }
    }
  }

  const cpu = cpus()
  console.log(
    `\nGatehouse bench — node ${process.version}, ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}; ` +
      `${settings.durationSec}s per figure in ${2 * settings.rounds} slices after ` +
      `${settings.warmupSec}s warm-up; ` +
      'load: autocannon in a child process (shares the cores)\n',
  )
  console.log(table(rows))
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
  const pct = (x) => `${fmt(x * 100, 0)}%`
  console.log(
    `\ntotal ${fmt(elapsedSec)} s; CPU used by the bench ${pct(share.bench)}, ` +
      `by other processes ${pct(share.others)}`,
  )
  if (share.others > 0.1) {
    console.log(
      'warning: other processes took a sizeable share of the CPU; ratios are interleaved to ' +
        'resist it, but rerun on a quiet machine for firm figures',
    )
  }
}
