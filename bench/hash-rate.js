import { createPasswordHasher } from '../dist/crypto/password-hasher.js'
import { cpuMeter, slice } from './stats.js'

/**
 * Argon2id verifications of this process with the production parameters, through the hasher
 * login uses, `concurrency` at a time (argon2 runs on libuv's threadpool, as it does for logins
 * arriving on that many connections). One verification is one full argon2id hash.
 * Resolves with a function measuring one slice of `durationSec`, with the process's CPU time
 * (the main thread's share of a verification included); its `verify(password)` is one such
 * verification, for a route that does nothing else (bare.js).
 */
export async function hashRate({ concurrency, password }) {
  const hasher = createPasswordHasher()
  const stored = await hasher.hash(password)
  const measure = async (durationSec) => {
    const latencies = []
    const cpu = cpuMeter()
    const start = performance.now()
    const end = start + durationSec * 1000
    const lane = async () => {
      while (performance.now() < end) {
        const t0 = performance.now()
        const { ok } = await hasher.verify(stored, password)
        if (!ok) throw new Error('argon2 verification failed')
        latencies.push(performance.now() - t0)
      }
    }
    await Promise.all(Array.from({ length: concurrency }, lane))
    const seconds = (performance.now() - start) / 1000
    return slice({
      ok: latencies.length,
      seconds,
      latencies: Float64Array.from(latencies),
      ...cpu.stop({ onlyHashing: true }),
    })
  }
  return Object.assign(measure, { verify: (pw) => hasher.verify(stored, pw) })
}
