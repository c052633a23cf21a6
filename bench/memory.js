// Memory figures: each server in a process of its own (server.js), so its resident set is
// its own. Idle is measured after start-up has settled; under load, the highest resident
// set seen while logins run.
import { fork } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { runLoad } from './loadgen.js'

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** The resident set of process `pid` in MiB, from /proc (Linux); NaN elsewhere. */
export function rssMiB(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kib = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1])
    return kib / 1024
  } catch {
    return NaN
  }
}

/**
 * The environment and Node flags the shipped systemd unit (ops/gatehouse.service) starts
 * Gatehouse with: its memory is measured as it is deployed.
 */
export function unitSettings() {
  const unit = readFileSync(new URL('../ops/gatehouse.service', import.meta.url), 'utf8')
  const env = Object.fromEntries(
    [...unit.matchAll(/^Environment=(\w+)=(.*)$/gm)].map(([, name, value]) => [name, value]),
  )
  const flags = /^ExecStart=\S+ (.*)dist\/main\.js$/m.exec(unit)?.[1] ?? ''
  return { env, execArgv: flags.split(/\s+/).filter(Boolean) }
}

export function startServer(kind, { env = {}, execArgv = [], args = [] } = {}) {
  const child = fork(new URL('./server.js', import.meta.url), [kind, ...args], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...env, NODE_ENV: 'production' },
    execArgv,
  })
  const next = (key) =>
    new Promise((resolve, reject) => {
      const onMessage = (msg) => {
        if (msg.error) reject(new Error(msg.error))
        else if (key in msg) resolve(msg[key])
        else return
        child.off('message', onMessage)
        child.off('exit', onExit)
      }
      const onExit = (code) => reject(new Error(`bench server (${kind}) exited with ${code}`))
      child.on('message', onMessage)
      child.once('exit', onExit)
    })
  return {
    child,
    ready: next('ready'),
    /** Logs the bench user in (registering it first unless `registered`); the access token. */
    async prepare({ registered = false } = {}) {
      child.send({ prepare: { registered } })
      return (await next('prepared')).accessToken
    },
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', resolve)
        child.send('stop')
      }),
  }
}

/**
 * Idle RSS of a bare Fastify process and of Gatehouse (SQLite, production settings), each
 * `settleSec` after it listens; then Gatehouse's peak RSS while `loginJob(origin)` runs for
 * `loadSec`, sampled every 50 ms.
 */
export async function memoryFigures({ settleSec, loadSec, loginJob }) {
  const bare = startServer('bare')
  let bareIdle
  try {
    await bare.ready
    await sleep(settleSec * 1000)
    bareIdle = rssMiB(bare.child.pid)
  } finally {
    await bare.stop()
  }
  const settings = unitSettings()
  const gatehouse = startServer('gatehouse', settings)
  try {
    const { origin } = await gatehouse.ready
    await sleep(settleSec * 1000)
    const idle = rssMiB(gatehouse.child.pid)
    await gatehouse.prepare()
    let peak = rssMiB(gatehouse.child.pid)
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssMiB(gatehouse.child.pid))
    }, 50)
    let load
    try {
      load = await runLoad({ ...loginJob(origin), durationSec: loadSec })
    } finally {
      clearInterval(sampler)
    }
    const { env, execArgv } = settings
    const unit = [...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...execArgv].join(' ')
    return { bareIdle, idle, underLoad: peak, logins: load.ok, failed: load.failed, unit }
  } finally {
    await gatehouse.stop()
  }
}
