import { readFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { loadGeneratorCpuMs } from './loadgen.js'

/**
 * The machine's CPU time from /proc/stat's `cpu` line (Linux), in clock ticks: busy (user,
 * nice, system, irq, softirq), steal (taken by the hypervisor for other guests) and total.
 * Elsewhere, os.cpus() without steal.
 */
function machineTicks() {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line
      .trim()
      .split(/\s+/)
      .slice(1, 9)
      .map(Number)
    const busy = user + nice + system + irq + softirq
    return { busy, steal, total: busy + idle + iowait + steal, tickMs: 10 }
  } catch {
    let busy = 0
    let total = 0
    for (const { times } of cpus()) {
      busy += times.user + times.nice + times.sys + times.irq
      total += times.user + times.nice + times.sys + times.irq + times.idle
    }
    return { busy, steal: 0, total, tickMs: 1 }
  }
}

function ownMs() {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

/**
 * Starts accounting where the machine's CPU time went; `stop()` returns the machine's busy
 * and steal shares over the run (from /proc/stat), and the shares of the available CPU used
 * by this bench (servers, argon2 threads, load generators) and by everything else on the
 * machine, which makes a noisy run recognisable. The server processes of the memory figures
 * are counted as "others"; they run for a few seconds only.
 */
export function cpuAccounting() {
  const start = { wall: performance.now(), ticks: machineTicks(), own: ownMs() }
  const startChildren = loadGeneratorCpuMs()
  return {
    stop() {
      const available = (performance.now() - start.wall) * cpus().length
      const bench = ownMs() - start.own + (loadGeneratorCpuMs() - startChildren)
      const now = machineTicks()
      const total = now.total - start.ticks.total
      const busy = (now.busy - start.ticks.busy) / total
      const steal = (now.steal - start.ticks.steal) / total
      const busyMs = (now.busy - start.ticks.busy) * now.tickMs
      return {
        bench: bench / available,
        others: Math.max(0, busyMs - bench) / available,
        busy,
        steal,
      }
    },
  }
}
