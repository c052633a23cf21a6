import net from 'node:net'

/**
 * A TCP proxy in front of a server (PostgreSQL, MariaDB, Redis) that can be cut and restored,
 * so a test can take the server away from one app (and only that one) and give it back on the
 * same address, as a network cut or a failover would.
 */
export async function tcpProxy(targetHost: string, targetPort: number) {
  const sockets = new Set<net.Socket>()
  let connections = 0
  const server = net.createServer((inbound) => {
    connections++
    const outbound = net.connect(targetPort, targetHost)
    for (const s of [inbound, outbound]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
      s.on('error', () => {
        inbound.destroy()
        outbound.destroy()
      })
    }
    inbound.pipe(outbound).pipe(inbound)
  })
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject)
        resolve((server.address() as net.AddressInfo).port)
      })
    })
  const port = await listen(0)

  return {
    port,
    /** Connections accepted so far (a restore is working once new ones arrive). */
    get connections() {
      return connections
    },
    /** Refuses new connections and cuts the open ones, like a server that went away. */
    async cut() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const s of sockets) s.destroy()
      await closed
    },
    async restore() {
      await listen(port)
    },
    async close() {
      for (const s of sockets) s.destroy()
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

export type TcpProxy = Awaited<ReturnType<typeof tcpProxy>>

/** The same URL, pointed at the proxy. */
export function throughProxy(url: string, proxy: TcpProxy): string {
  const u = new URL(url)
  u.hostname = '127.0.0.1'
  u.port = String(proxy.port)
  return u.toString()
}
