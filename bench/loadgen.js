import { fork } from 'node:child_process'

const worker = new URL('./load.js', import.meta.url)
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

let child
let pending
let childCpuMs = 0

/** CPU time the load generator has used so far. */
export const loadGeneratorCpuMs = () => childCpuMs

function settle(fn, value) {
  const p = pending
  pending = undefined
  if (p) {
    clearTimeout(p.limit)
    p[fn](value)
  }
}

/** One long-lived child for the whole run: a fresh one per slice would cost a second each. */
function loadGenerator() {
  if (child) return child
  child = fork(worker, [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced', // latencies travel as a Float64Array
  })
  child.on('message', (msg) => {
    if (msg.slice) {
      childCpuMs = msg.slice.cpuMs
      settle('resolve', msg.slice)
    } else settle('reject', new Error(msg.error))
  })
  child.on('exit', (code) => {
    child = undefined
    settle('reject', new Error(`load generator exited with ${code}`))
  })
  return child
}

/** Ends the load generator; the run is over. */
export function stopLoadGenerator() {
  child?.disconnect()
}

/**
 * Runs one autocannon job in the load-generator process and resolves with its slice
 * (stats.js) once the server has had `job.settleSec` to finish the requests autocannon
 * abandoned at the end (a login's argon2 keeps running), so they do not eat into the next
 * measurement.
 */
export async function runLoad(job) {
  const gen = loadGenerator()
  const slice = await new Promise((resolve, reject) => {
    const limit = setTimeout(
      () => {
        gen.kill('SIGKILL')
        reject(new Error(`load generator for ${job.url} did not finish`))
      },
      (job.durationSec + 20) * 1000,
    )
    pending = { resolve, reject, limit }
    gen.send(job)
  })
  await sleep((job.settleSec ?? 0) * 1000)
  return slice
}
