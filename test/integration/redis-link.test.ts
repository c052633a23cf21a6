import { afterEach, describe, expect, it, vi } from 'vitest'
import { createLocalBus, type Invalidation } from '../../src/services/cache/invalidation.js'
import { createSharedBus } from '../../src/services/cache/shared-bus.js'
import { createRedisLink, type RedisLink } from '../../src/store/redis.js'
import { dropRedisPrefix, redisProxy, testRedisUrl, uniqueRedisPrefix } from '../support/redis.js'

/** Generous: these waits end as soon as the condition holds (see multi-instance.test.ts). */
const eventually = { timeout: 20_000, interval: 20 }

/**
 * Regression: a link started while Redis was away never delivered a message. Its SUBSCRIBE,
 * queued at start-up, failed with "Command timed out" (commandTimeout) before Redis returned,
 * and the listener was only registered once the SUBSCRIBE succeeded. After Redis came back the
 * 'ready' handler subscribed the channel again and the status said 'ok', but messages found
 * no listener: an instance started during an outage never heard of a revocation again.
 */
describe('the Redis link', () => {
  const prefix = uniqueRedisPrefix()
  const cleanup: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step()
    await dropRedisPrefix(prefix)
  })
  const open = (url: string): RedisLink => {
    const link = createRedisLink(url, prefix)
    cleanup.push(() => link.close())
    return link
  }

  it('delivers to a listener subscribed while Redis was away, once Redis is back', async () => {
    const proxy = await redisProxy()
    cleanup.push(() => proxy.close())
    await proxy.cut()
    const late = open(proxy.url)
    await vi.waitFor(() => expect(late.status()).toBe('unavailable'), eventually)

    const received: string[] = []
    // Settles at once: nothing is sent while the connection is down (the old code waited on a
    // queued SUBSCRIBE here and rejected a second later, leaving the listener out).
    await late.subscribe('news', (message) => received.push(message))

    await proxy.restore()
    await vi.waitFor(() => expect(late.status()).toBe('ok'), eventually)
    const publisher = open(testRedisUrl)
    await vi.waitFor(() => expect(publisher.status()).toBe('ok'), eventually)
    await publisher.publish('news', 'session ended')
    await vi.waitFor(() => expect(received).toEqual(['session ended']), eventually)
  })

  it('delivers to every listener of a channel subscribed while Redis is up', async () => {
    const link = open(testRedisUrl)
    await vi.waitFor(() => expect(link.status()).toBe('ok'), eventually)
    const first: string[] = []
    const second: string[] = []
    await link.subscribe('news', (message) => first.push(message))
    await link.subscribe('news', (message) => second.push(message))
    const publisher = open(testRedisUrl)
    await vi.waitFor(() => expect(publisher.status()).toBe('ok'), eventually)
    await publisher.publish('news', 'hello')
    await vi.waitFor(() => {
      expect(first).toEqual(['hello'])
      expect(second).toEqual(['hello'])
    }, eventually)
  })

  it('acts on a change here and logs that the other instances could not be told, while Redis is away', async () => {
    const proxy = await redisProxy()
    cleanup.push(() => proxy.close())
    await proxy.cut()
    const link = open(proxy.url)
    await vi.waitFor(() => expect(link.status()).toBe('unavailable'), eventually)
    const warnings: { obj: Record<string, unknown>; msg: string }[] = []
    const bus = createSharedBus({
      local: createLocalBus(),
      pubsub: link,
      instanceId: 'here',
      log: { warn: (obj, msg) => warnings.push({ obj, msg }) },
    })
    const heard: Invalidation[] = []
    bus.subscribe((message) => heard.push(message))

    bus.publish({ kind: 'sessions_ended', ids: ['s1'] })
    bus.publish({ kind: 'user_changed', id: 'u1' })
    expect(heard).toEqual([
      { kind: 'sessions_ended', ids: ['s1'] },
      { kind: 'user_changed', id: 'u1' },
    ])
    // It was dropped without a word before: an operator could not tell why another instance
    // admitted a revoked session for a while.
    await vi.waitFor(
      () =>
        expect(warnings.map((w) => w.msg)).toContain(
          'a change could not be told to the other instances',
        ),
      eventually,
    )
    // Once per outage, not once per change.
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(warnings).toHaveLength(1)
  })
})
