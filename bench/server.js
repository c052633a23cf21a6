// One server in a process of its own, for the memory figures (memory.js):
//   node bench/server.js gatehouse   Gatehouse from dist/ on a fresh SQLite file
//   node bench/server.js bare        the bare Fastify yardstick
// Answers over IPC: { ready: { origin } } once listening; 'prepare' registers the bench user
// (Gatehouse only); 'stop' closes it.
const kind = process.argv[2]
const server =
  kind === 'bare'
    ? await (await import('./bare.js')).startBare()
    : await (await import('./targets.js')).startGatehouse({}, { register: false })

let stopping = false
async function stop() {
  if (stopping) return
  stopping = true
  await server.close()
  process.exit(0)
}

process.on('message', (msg) => {
  if (msg === 'prepare') {
    server.prepare().then(
      () => process.send({ prepared: true }),
      (err) => process.send({ error: String(err?.stack ?? err) }),
    )
  } else if (msg === 'stop') stop()
})
process.on('disconnect', stop)
process.send({ ready: { origin: server.origin } })
