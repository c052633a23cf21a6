import { createRequire } from 'node:module'
import type * as IoRedis from 'ioredis'
import type { Redis, RedisOptions } from 'ioredis'

/**
 * ioredis, loaded when REDIS_URL is set and not before: it costs about 4 MiB per process,
 * and the link is built synchronously at start-up, hence `require` (ioredis is CommonJS)
 * rather than an `import()`.
 */
const loadIoRedis = () => createRequire(import.meta.url)('ioredis') as typeof IoRedis

export type RedisStatus = 'ok' | 'unavailable'

/**
 * The connections to Redis when REDIS_URL is set: one for commands (shared counters), one
 * for pub/sub (a subscribed connection can do nothing else). Every key and channel carries
 * REDIS_PREFIX, so several deployments (or test suites) share one Redis without colliding.
 *
 * Redis is an accelerator here, never the truth: commands fail fast while it is away
 * (no offline queue, a short timeout), callers fall back to memory or the database, and
 * ioredis keeps reconnecting in the background until it is back.
 */
export interface RedisLink {
  /** For commands; keys must go through `key()`. */
  readonly client: Redis
  readonly prefix: string
  key(name: string): string
  status(): RedisStatus
  /** Called on every change of status (not on repeated errors), so it can be logged once. */
  watch(listener: (status: RedisStatus) => void): () => void
  publish(channel: string, message: string): Promise<void>
  subscribe(channel: string, listener: (message: string) => void): Promise<void>
  close(): Promise<void>
}

const options: RedisOptions = {
  enableOfflineQueue: false,
  commandTimeout: 1_000,
  connectTimeout: 2_000,
  maxRetriesPerRequest: 0,
  // Reconnect forever, at most a second apart: recovery must not need a restart.
  retryStrategy: (times) => Math.min(times * 100, 1_000),
}

export function createRedisLink(url: string, prefix: string): RedisLink {
  const { Redis } = loadIoRedis()
  const client = new Redis(url, { ...options, connectionName: 'gatehouse' })
  // The subscriber keeps its queue (forever) so that a SUBSCRIBE in flight when the
  // connection drops is resent rather than failed; channels are subscribed again on 'ready'.
  const subscriber = new Redis(url, {
    ...options,
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
    connectionName: 'gatehouse-sub',
  })
  const listeners = new Set<(status: RedisStatus) => void>()
  const channels = new Map<string, Set<(message: string) => void>>()
  // 'connecting' until the first verdict, so a Redis that is down at start-up is reported too.
  let current: RedisStatus | 'connecting' = 'connecting'
  let closing = false

  const report = (next: RedisStatus) => {
    if (next === current || closing) return
    current = next
    for (const listener of listeners) listener(next)
  }
  // Redis is of use once both connections are up and our channels are subscribed again:
  // 'ok' promises that counters are shared and revocations arrive.
  let subscribed = false
  const onReady = () => {
    if (client.status === 'ready' && subscriber.status === 'ready' && subscribed) report('ok')
  }
  const onDown = () => report('unavailable')
  for (const connection of [client, subscriber]) {
    connection.on('close', onDown)
    connection.on('end', onDown)
    // Without a listener ioredis would crash the process; the status change is what we report.
    connection.on('error', onDown)
  }
  client.on('ready', onReady)
  subscriber.on('close', () => {
    subscribed = false
  })
  // Subscribe again on every (re)connect: ioredis only restores subscriptions it saw succeed,
  // and a SUBSCRIBE queued while Redis was down at start-up may have been dropped.
  subscriber.on('ready', () => {
    const names = [...channels.keys()]
    const done = names.length > 0 ? subscriber.subscribe(...names) : Promise.resolve()
    done.then(() => {
      subscribed = true
      onReady()
    }, onDown)
  })
  subscriber.on('message', (channel: string, message: string) => {
    for (const listener of channels.get(channel) ?? []) listener(message)
  })

  const key = (name: string) => `${prefix}${name}`
  return {
    client,
    prefix,
    key,
    status: () => (current === 'ok' ? 'ok' : 'unavailable'),
    watch(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    async publish(channel, message) {
      await client.publish(key(channel), message)
    },
    async subscribe(channel, listener) {
      const full = key(channel)
      const set = channels.get(full)
      if (set) {
        set.add(listener)
        return
      }
      // The listener is registered before the SUBSCRIBE is sent, and whatever becomes of it:
      // a SUBSCRIBE queued while Redis is away times out (commandTimeout), and if that left
      // the listener out, the 'ready' handler would subscribe the channel once Redis is back
      // and report 'ok' while every message was dropped here. While the connection is down,
      // nothing is sent now: the 'ready' handler subscribes every known channel.
      channels.set(full, new Set([listener]))
      if (subscriber.status === 'ready') await subscriber.subscribe(full)
    },
    async close() {
      closing = true
      listeners.clear()
      // QUIT lets pending replies arrive; a connection that is down is simply dropped.
      await Promise.allSettled(
        [client, subscriber].map((c) => (c.status === 'ready' ? c.quit() : Promise.resolve())),
      )
      client.disconnect()
      subscriber.disconnect()
    },
  }
}
