import fastify from 'fastify'

/**
 * The yardstick for /me and for memory: Fastify with one JSON route and nothing else. With
 * `verify` (the hasher's verify and a stored hash), also a login route that does nothing but
 * that verification: the most any HTTP login can reach against the raw rate on this machine,
 * with the same load generator and the same request.
 */
export async function startBare({ verify } = {}) {
  const app = fastify({ logger: false })
  app.get('/bare', async () => ({ id: 'usr_bench', username: 'bench-user', roles: ['user'] }))
  if (verify) {
    app.post('/api/auth/login', async (request, reply) => {
      const { ok } = await verify(request.body.password)
      if (!ok) return reply.code(401).send({ error: 'invalid_credentials' })
      return { ok }
    })
  }
  let completed = 0
  app.server.on('request', (_req, res) => res.on('finish', () => completed++))
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address()
  return {
    origin: `http://127.0.0.1:${port}`,
    completed: () => completed,
    close: () => app.close(),
  }
}
