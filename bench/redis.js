import { Redis } from 'ioredis'

const options = { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 1000 }

/** True if a Redis server answers PING at `url` within about a second. */
export async function redisReachable(url) {
  const client = new Redis(url, { ...options, retryStrategy: () => null })
  client.on('error', () => {})
  try {
    await client.connect()
    return (await client.ping()) === 'PONG'
  } catch {
    return false
  } finally {
    client.disconnect()
  }
}

/** Deletes every key a scenario left under its own unique prefix. */
export async function cleanupRedisPrefix(url, prefix) {
  const client = new Redis(url, options)
  client.on('error', () => {})
  try {
    await client.connect()
    let cursor = '0'
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500)
      if (keys.length > 0) await client.del(...keys)
      cursor = next
    } while (cursor !== '0')
  } catch (err) {
    console.error(`bench: could not clean Redis keys ${prefix}*: ${err.message}`)
  } finally {
    client.disconnect()
  }
}
