import { cpus } from 'node:os'
import { loadGeneratorCpuMs } from './loadgen.js'

function machineBusyMs() {
  let busy = 0
  for (const { times } of cpus()) busy += times.user + times.nice + times.sys + times.irq
  return busy
}

function ownMs() {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

/**
 * Starts accounting where the machine's CPU time went; `stop()` returns the shares of the
 * available CPU used by this bench (servers, argon2 threads, load generators) and by
 * everything else on the machine, which makes a noisy run recognisable.
 */
export function cpuAccounting() {
  const start = { wall: performance.now(), busy: machineBusyMs(), own: ownMs() }
  const startChildren = loadGeneratorCpuMs()
  return {
    stop() {
      const available = (performance.now() - start.wall) * cpus().length
      const bench = ownMs() - start.own + (loadGeneratorCpuMs() - startChildren)
      const busy = machineBusyMs() - start.busy
      return { bench: bench / available, others: Math.max(0, busy - bench) / available }
    },
  }
}
