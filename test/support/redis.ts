import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { tcpProxy, throughProxy } from './tcp-proxy.js'

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

/** A cuttable TCP proxy in front of the test Redis (see tcpProxy), with its URL. */
export async function redisProxy() {
  const target = new URL(testRedisUrl)
  const proxy = await tcpProxy(target.hostname, Number(target.port || 6379))
  return { ...proxy, url: throughProxy(testRedisUrl, proxy) }
}
