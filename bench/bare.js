import fastify from 'fastify'

/** The yardstick for /me and for memory: Fastify with one JSON route and nothing else. */
export async function startBare() {
  const app = fastify({ logger: false })
  app.get('/bare', async () => ({ id: 'usr_bench', username: 'bench-user', roles: ['user'] }))
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address()
  return { origin: `http://127.0.0.1:${port}`, close: () => app.close() }
}
