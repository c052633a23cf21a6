import type { Redis } from 'ioredis'
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible'

/**
 * Fixed-window counters from rate-limiter-flexible: in this process by default, in Redis
 * (shared by every instance) when REDIS_URL is set. A Redis counter falls back to an
 * in-memory twin while Redis is unreachable (`insuranceLimiter`), so an outage weakens the
 * limits to per-instance ones instead of failing logins. Every increment is one atomic
 * step (a Lua script in Redis), which is what lets callers reserve an attempt before
 * checking it.
 *
 * The library reads `Date.now()` itself; tests fake only `Date` to move its windows.
 */
export interface Counter {
  /** Adds one; `count` includes this hit, `msLeft` is the time until the window resets. */
  hit(key: string): Promise<{ count: number; msLeft: number }>
  /** Gives one back (an attempt that turned out not to count). */
  giveBack(key: string): Promise<void>
  peek(key: string): Promise<{ count: number; msLeft: number }>
  forget(key: string): Promise<void>
}

export type CounterFactory = (name: string, opts: { limit: number; windowSec: number }) => Counter

export function counterFactory(opts: { redis?: Redis; prefix: string }): CounterFactory {
  return (name, { limit, windowSec }) => {
    const memory = new RateLimiterMemory({ points: limit, duration: windowSec })
    const limiter: RateLimiterAbstract = opts.redis
      ? new RateLimiterRedis({
          storeClient: opts.redis,
          keyPrefix: `${opts.prefix}rl:${name}`,
          points: limit,
          duration: windowSec,
          // Fail over to memory at once instead of waiting on a dead connection.
          rejectIfRedisNotReady: true,
          insuranceLimiter: memory,
        })
      : memory
    return wrap(limiter)
  }
}

function wrap(limiter: RateLimiterAbstract): Counter {
  return {
    async hit(key) {
      let res: RateLimiterRes
      try {
        res = await limiter.consume(key)
      } catch (err) {
        // Over the limit is an answer, not a failure: the caller decides what it means.
        if (!(err instanceof RateLimiterRes)) throw err
        res = err
      }
      return { count: res.consumedPoints, msLeft: Math.max(0, res.msBeforeNext) }
    },
    async giveBack(key) {
      await limiter.reward(key)
    },
    async peek(key) {
      const res = await limiter.get(key)
      // The in-memory store drops a key on a timer, so a window that ended (by the clock
      // the library reads) can still be read back: it counts as empty.
      return res && res.msBeforeNext > 0
        ? { count: res.consumedPoints, msLeft: res.msBeforeNext }
        : { count: 0, msLeft: 0 }
    },
    async forget(key) {
      await limiter.delete(key)
    },
  }
}
