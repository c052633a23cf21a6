/**
 * A measurement slice: `ok` successful operations in `seconds`, their latencies in ms, and
 * what failed; `cpuMs` is the CPU time the measured process spent on the `ops` operations it
 * completed (undefined where not measured). Slices of one measurement are merged by `combine`.
 */
export function slice({ ok, seconds, latencies, failed = 0, statusCodes = {}, cpuMs, ops }) {
  return { ok, seconds, latencies, failed, statusCodes, cpuMs, ops: ops ?? ok }
}

/** This process's CPU time so far in ms, every thread (argon2 runs on libuv's pool). */
export function processCpuMs() {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}

/** Throughput over the summed time of the slices, percentiles over all their latencies. */
export function combine(slices) {
  const n = slices.reduce((sum, s) => sum + s.latencies.length, 0)
  const all = new Float64Array(n)
  let at = 0
  const statusCodes = {}
  for (const s of slices) {
    all.set(s.latencies, at)
    at += s.latencies.length
    for (const [code, count] of Object.entries(s.statusCodes)) {
      statusCodes[code] = (statusCodes[code] ?? 0) + count
    }
  }
  all.sort()
  const ok = slices.reduce((sum, s) => sum + s.ok, 0)
  const seconds = slices.reduce((sum, s) => sum + s.seconds, 0)
  const cpuMs = slices.reduce((sum, s) => sum + (s.cpuMs ?? NaN), 0)
  const ops = slices.reduce((sum, s) => sum + s.ops, 0)
  return {
    ok,
    rps: ok / seconds,
    cpuPerOpMs: cpuMs / ops,
    p50: percentile(all, 50),
    p99: percentile(all, 99),
    failed: slices.reduce((sum, s) => sum + s.failed, 0),
    statusCodes,
  }
}

/**
 * Measures a denominator and a numerator in the order (A B B A) × rounds, each slice
 * durationSec / (2 × rounds) long, so that changes in the machine's load (other processes
 * share these cores) hit both sides alike. `measure(sliceSec)` resolves with a slice.
 */
export async function interleaved(a, b, durationSec, rounds) {
  const sliceSec = durationSec / (2 * rounds)
  const slices = { a: [], b: [] }
  for (let i = 0; i < rounds; i++) {
    for (const side of ['a', 'b', 'b', 'a']) {
      slices[side].push(await (side === 'a' ? a : b)(sliceSec))
    }
  }
  return { a: combine(slices.a), b: combine(slices.b) }
}
