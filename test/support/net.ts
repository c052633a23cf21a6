import { createServer, type AddressInfo } from 'node:net'

/** A port free on 127.0.0.1 right now, for a server whose address must be known before it starts. */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer()
    server.once('error', fail)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => done(port))
    })
  })
}
