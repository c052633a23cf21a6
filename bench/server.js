// One server in a process of its own, for the memory figures (memory.js) and the instance
// scaling (instances.js):
//   node bench/server.js gatehouse         Gatehouse from dist/ on a fresh SQLite file
//   node bench/server.js gatehouse <url>   Gatehouse on that (shared) database
//   node bench/server.js bare              the bare Fastify yardstick
// Answers over IPC: { ready: { origin } } once listening; { prepare: { registered } } logs the
// bench user in (registering it first unless `registered`) and answers { prepared:
// { accessToken } } (Gatehouse only); 'stop' closes it.
const [kind, databaseUrl] = process.argv.slice(2)
// What instances sharing one Redis need from the environment (instances.js sets them).
const sharedEnv = () =>
  Object.fromEntries(
    ['REDIS_URL', 'REDIS_PREFIX'].filter((k) => process.env[k]).map((k) => [k, process.env[k]]),
  )
const server =
  kind === 'bare'
    ? await (await import('./bare.js')).startBare()
    : await (
        await import('./targets.js')
      ).startGatehouse(sharedEnv(), { register: false, databaseUrl })

let stopping = false
async function stop() {
  if (stopping) return
  stopping = true
  await server.close()
  process.exit(0)
}

process.on('message', (msg) => {
  if (msg === 'prepare' || msg?.prepare) {
    server.prepare(msg.prepare).then(
      () => process.send({ prepared: { accessToken: server.accessToken } }),
      (err) => process.send({ error: String(err?.stack ?? err) }),
    )
  } else if (msg === 'stop') stop()
})
process.on('disconnect', stop)
process.send({ ready: { origin: server.origin } })
