// The load generator, run as a child process (see loadgen.js) so that its event loop never
// competes with the server's inside one process; both still share the machine's cores.
// Receives jobs over IPC, runs each with autocannon and answers with a slice (see stats.js).
import autocannon from 'autocannon'

/** Response times of 2xx answers in ms, exact: autocannon's own histogram has 1 ms steps. */
function latencyRecorder() {
  let values = new Float64Array(1 << 16)
  let n = 0
  return {
    record(ms) {
      if (n === values.length) {
        const grown = new Float64Array(values.length * 2)
        grown.set(values)
        values = grown
      }
      values[n++] = ms
    },
    values: () => values.slice(0, n),
  }
}

/** This process's own CPU time, so the report can tell the bench's CPU from other processes'. */
function cpuMs() {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

async function run(job) {
  const latencies = latencyRecorder()
  const instance = autocannon({
    url: job.url,
    method: job.method,
    headers: job.headers,
    body: job.body,
    connections: job.connections,
    pipelining: 1,
    duration: job.durationSec,
    timeout: 10,
  })
  instance.on('response', (_client, status, _bytes, ms) => {
    if (status >= 200 && status < 300) latencies.record(ms)
  })
  const result = await instance
  const statusCodes = Object.fromEntries(
    Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count]),
  )
  if (result.errors > 0) statusCodes.errors = result.errors
  if (result.timeouts > 0) statusCodes.timeouts = result.timeouts
  return {
    ok: result['2xx'],
    seconds: result.duration,
    latencies: latencies.values(),
    failed: result.non2xx + result.errors + result.timeouts,
    statusCodes,
    cpuMs: cpuMs(),
  }
}

// Jobs arrive one at a time; the parent disconnects when the run is over.
process.on('message', (job) => {
  run(job).then(
    (slice) => process.send({ slice }),
    (err) => process.send({ error: String(err?.stack ?? err) }),
  )
})
process.on('disconnect', () => process.exit(0))
