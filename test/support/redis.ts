import { randomBytes } from 'node:crypto'
import net from 'node:net'
import { Redis } from 'ioredis'

/** The Redis the suites share (CI gives each run its own database number). */
export const testRedisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

/** A prefix no other suite uses, so parallel suites never see each other's keys. */
export const uniqueRedisPrefix = () => `gh-test-${randomBytes(6).toString('hex')}:`

/** Deletes every key under a prefix (the end of a suite). */
export async function dropRedisPrefix(prefix: string): Promise<void> {
  const redis = new Redis(testRedisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  await redis.connect()
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500)
    if (keys.length > 0) await redis.del(...keys)
    cursor = next
  } while (cursor !== '0')
  await redis.quit()
}

/**
 * A TCP proxy in front of the test Redis that can be cut and restored, so a test can take
 * Redis away from one instance (and only that one) and give it back on the same address.
 */
export async function redisProxy() {
  const target = new URL(testRedisUrl)
  const sockets = new Set<net.Socket>()
  const server = net.createServer((inbound) => {
    const outbound = net.connect(Number(target.port || 6379), target.hostname)
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
  const url = new URL(testRedisUrl)
  url.hostname = '127.0.0.1'
  url.port = String(port)

  return {
    url: url.toString(),
    /** Refuses new connections and cuts the open ones, like a Redis that went away. */
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
