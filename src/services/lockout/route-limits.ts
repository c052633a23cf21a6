import type { Clock } from '../ports.js'
import type { CounterFactory } from './counters.js'
import { ipLimitKey } from './ip-key.js'
import { createSlidingWindow, type SlidingWindow, type Verdict } from './sliding-window.js'

/** The limiters routes can name (SPEC §4.5); login has its own guard (login-guard.ts). */
export type RouteLimitName = 'mfa' | 'send_code' | 'password_reset' | 'register' | 'totp_service'

interface Rule {
  limit: number
  windowSec: number
}

/** Per client IP (per /64 for IPv6, see ip-key.ts), and per signed-in user (or API key holder) where the route has one. */
export interface RouteLimitRule {
  perIp: Rule
  perUser?: Rule
  /** For `checkKey`: one thing under attack, whoever asks (e.g. one TOTP-service subject). */
  perKey?: Rule
}

const MINUTE = 60
const HOUR = 60 * MINUTE

/**
 * The defaults, documented in the README. Per-IP limits are generous because one office or
 * mobile carrier can put many people behind one address; the tight, per-account limits live
 * with the thing they protect (the mfa_token's 5 tries, 1 code per minute per user, the
 * login guard), so these are flood guards above them.
 */
export function defaultRouteLimits(cfg: {
  ipRegisterPerHour: number
}): Record<RouteLimitName, RouteLimitRule> {
  return {
    register: { perIp: { limit: cfg.ipRegisterPerHour, windowSec: HOUR } },
    mfa: { perIp: { limit: 300, windowSec: 15 * MINUTE } },
    // Every code sent costs money (SMS pumping fraud runs on exactly this endpoint).
    send_code: {
      perIp: { limit: 60, windowSec: HOUR },
      perUser: { limit: 10, windowSec: HOUR },
    },
    password_reset: { perIp: { limit: 30, windowSec: HOUR } },
    totp_service: {
      perIp: { limit: 1200, windowSec: MINUTE },
      perUser: { limit: 1200, windowSec: MINUTE },
      // RFC 4226 §7.3: throttle guesses at one secret. Three codes in a million are valid
      // (±1 step), so 10 tries per 15 minutes keep a guesser's odds negligible for years.
      perKey: { limit: 10, windowSec: 15 * MINUTE },
    },
  }
}

export interface RouteLimits {
  has(name: string): name is RouteLimitName
  /** Counts one request; refused requests are not counted. */
  check(name: RouteLimitName, who: { ip: string | null; userId?: string | null }): Promise<Verdict>
  /** For services that limit on something else too (e.g. one TOTP-service subject). */
  checkKey(name: RouteLimitName, key: string): Promise<Verdict>
}

export function createRouteLimits(deps: {
  counters: CounterFactory
  clock: Clock
  rules: Record<RouteLimitName, RouteLimitRule>
}): RouteLimits {
  const windows = new Map<string, SlidingWindow>()
  const windowFor = (name: RouteLimitName, scope: 'ip' | 'user' | 'key', rule: Rule) => {
    const id = `${name}:${scope}`
    let w = windows.get(id)
    if (!w) {
      w = createSlidingWindow({ counters: deps.counters, clock: deps.clock, name: id, ...rule })
      windows.set(id, w)
    }
    return w
  }

  return {
    has: (name): name is RouteLimitName => Object.hasOwn(deps.rules, name),

    async check(name, who) {
      const rule = deps.rules[name]
      // Per user first: one account hammering from many addresses is refused without
      // spending the shared per-IP budget of everyone behind one address.
      if (rule.perUser && who.userId) {
        const verdict = await windowFor(name, 'user', rule.perUser).hit(who.userId)
        if (!verdict.ok) return verdict
      }
      return windowFor(name, 'ip', rule.perIp).hit(who.ip ? ipLimitKey(who.ip) : 'unknown')
    },

    async checkKey(name, key) {
      const rule = deps.rules[name]
      return windowFor(name, 'key', rule.perKey ?? rule.perUser ?? rule.perIp).hit(key)
    },
  }
}
