import { readdirSync, readFileSync } from 'node:fs'

/**
 * A measurement slice: `ok` successful operations in `seconds`, their latencies in ms, and
 * what failed; `cpuMs` is the CPU time the measured process spent on the `ops` operations it
 * completed (undefined where not measured), `otherCpuMs` the part of it outside the threads
 * that hash (see cpuMeter). Slices of one measurement are merged by `combine`.
 */
export function slice({
  ok,
  seconds,
  latencies,
  failed = 0,
  statusCodes = {},
  cpuMs,
  otherCpuMs,
  ops,
}) {
  return { ok, seconds, latencies, failed, statusCodes, cpuMs, otherCpuMs, ops: ops ?? ok }
}

/** This process's CPU time so far in ms, every thread (argon2 runs on libuv's pool). */
function processCpuMs() {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

/** Each thread's CPU time so far in ms, by thread id: Linux's schedstat (ns); empty elsewhere. */
function threadCpuMs() {
  const byThread = new Map()
  let tids
  try {
    tids = readdirSync('/proc/self/task')
  } catch {
    return byThread // not Linux: the slices are reported without the split
  }
  for (const tid of tids) {
    try {
      const ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0])
      if (Number.isFinite(ns)) byThread.set(tid, ns / 1e6)
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return byThread
}

// The threads seen computing argon2id: libuv's pool threads, which do nothing else here.
const hashThreads = new Set()

/**
 * Measures this process's CPU time over a slice: in all, and on the threads that do not hash.
 * The hash's own CPU time drifts by several percent from slice to slice on a shared VM, more
 * than everything else a login does; the part spent outside the hashing threads is what a
 * login adds, measured without that drift. Both sides of that part come from the same
 * per-thread clock (schedstat), not from the process total less the hashing threads: two
 * clocks that differ by a fraction of a percent would differ by tenths of a millisecond per
 * 40 ms hash. `stop({ onlyHashing: true })` after a slice of nothing but verifications learns
 * which threads hash.
 */
export function cpuMeter() {
  const total0 = processCpuMs()
  const threads0 = threadCpuMs()
  return {
    stop({ onlyHashing = false } = {}) {
      const cpuMs = processCpuMs() - total0
      const spent = [...threadCpuMs()].map(([tid, ms]) => [tid, ms - (threads0.get(tid) ?? 0)])
      const threadsMs = spent.reduce((sum, [, ms]) => sum + ms, 0)
      // The main thread takes about 1 % of a verification slice; a pool thread, a half.
      if (onlyHashing) for (const [tid, ms] of spent) if (ms > threadsMs / 10) hashThreads.add(tid)
      if (hashThreads.size === 0 || spent.length === 0) return { cpuMs, otherCpuMs: NaN }
      const otherCpuMs = spent.reduce((sum, [tid, ms]) => sum + (hashThreads.has(tid) ? 0 : ms), 0)
      return { cpuMs, otherCpuMs }
    },
  }
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
  const otherCpuMs = slices.reduce((sum, s) => sum + (s.otherCpuMs ?? NaN), 0)
  const ops = slices.reduce((sum, s) => sum + s.ops, 0)
  return {
    ok,
    rps: ok / seconds,
    cpuPerOpMs: cpuMs / ops,
    /** CPU per operation outside the hashing threads (NaN where threads cannot be told apart). */
    otherCpuPerOpMs: otherCpuMs / ops,
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
