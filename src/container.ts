import type { Config } from './config/types.js'
import { createPasswordHasher, type PasswordHasher } from './crypto/hashing.js'
import { cryptoRandom } from './crypto/random.js'
import { createSecretBox, type SecretBox } from './crypto/secret-box.js'
import { createObservability, type Observability } from './observability/prometheus.js'
import { createAccountService, type AccountService } from './services/accounts/accounts.js'
import {
  createProfileReader,
  type MfaSummary,
  type ProfileReader,
} from './services/accounts/user-profile.js'
import { createCursorCodec, type CursorCodec } from './services/pagination.js'
import { createUserDirectory, type UserDirectory } from './services/users/directory.js'
import { deriveKey } from './crypto/secret-box.js'
import { createAuditLog, type AuditLog } from './services/audit/audit-log.js'
import { createAuditTail, type AuditTail } from './services/audit/audit-tail.js'
import { createLocalBus, type InvalidationBus } from './services/cache/invalidation.js'
import { createSharedBus } from './services/cache/shared-bus.js'
import { newId } from './services/ids.js'
import { createAccountLocks, type AccountLocks } from './services/lockout/account-locks.js'
import { counterFactory } from './services/lockout/counters.js'
import { createLoginThrottle } from './services/lockout/login-throttle.js'
import {
  createRouteLimits,
  defaultRouteLimits,
  type RouteLimits,
} from './services/lockout/route-limits.js'
import { createLoginFlow, type LoginFlow } from './services/login/login-flow.js'
import { systemClock, type Clock, type Random } from './services/ports.js'
import { createSessionGate } from './services/sessions/session-gate.js'
import { createSessionService, type SessionService } from './services/sessions/session-service.js'
import { createAccessTokens, type AccessTokens } from './services/tokens/access-tokens.js'
import { createKeyRing, type KeyRing } from './services/tokens/key-ring.js'
import { createDb, type Db, type DialectName } from './store/db.js'
import { createRedisLink, type RedisStatus } from './store/redis.js'

export interface Services {
  config: Config
  db: Db
  dialect: DialectName
  clock: Clock
  random: Random
  box: SecretBox
  hasher: PasswordHasher
  bus: InvalidationBus
  audit: AuditLog
  /** The audit log as lines, newest last (`gatehouse audit tail`). */
  auditTail: AuditTail
  keyRing: KeyRing
  accessTokens: AccessTokens
  profiles: ProfileReader
  accounts: AccountService
  sessions: SessionService
  loginFlow: LoginFlow
  observability: Observability
  cursors: CursorCodec
  userDirectory: UserDirectory
  /** The sliding-window limits routes name in `config.rateLimit` (SPEC §4.5). */
  routeLimits: RouteLimits
  /** Admin locks and the automatic lockout: lock, unlock (CLI, admin API). */
  accountLocks: AccountLocks
  /** Everything holding secrets sealed under GATEHOUSE_SECRET_KEY, for `secrets rotate`. */
  resealers: { reseal(): Promise<number> }[]
  redisStatus(): 'ok' | 'unavailable' | 'disabled'
  /** Reports each change of Redis reachability once (for the log); no-op without REDIS_URL. */
  watchRedis(listener: (status: RedisStatus) => void): () => void
  close(): Promise<void>
}

export interface ContainerOverrides {
  clock?: Clock
  random?: Random
  /** Cheaper argon2 parameters for tests that are not about hashing. */
  hasherOptions?: Parameters<typeof createPasswordHasher>[0]
  defaultMetrics?: boolean
}

// Second factors arrive with their own services; until a user enrols one, this is the truth.
const noSecondFactor: MfaSummary = {
  totp: false,
  webauthn: 0,
  email: false,
  sms: false,
  backupCodesRemaining: 0,
}

/** The composition root: the only place that knows every layer. */
export function createContainer(config: Config, overrides: ContainerOverrides = {}): Services {
  const clock = overrides.clock ?? systemClock
  const random = overrides.random ?? cryptoRandom
  const { db, dialect, close: closeDb } = createDb(config.databaseUrl)
  const box = createSecretBox(config.secrets.key, config.secrets.oldKeys)
  const hasher = createPasswordHasher(overrides.hasherOptions)
  const observability = createObservability({ defaultMetrics: overrides.defaultMetrics ?? true })
  const redis = config.redis.url
    ? createRedisLink(config.redis.url, config.redis.prefix)
    : undefined
  const localBus = createLocalBus()
  const bus = redis
    ? createSharedBus({ local: localBus, pubsub: redis, instanceId: newId(random) })
    : localBus
  const counters = counterFactory({ redis: redis?.client, prefix: config.redis.prefix })
  const audit = createAuditLog({ db, clock })
  const keyRing = createKeyRing({
    db,
    box,
    clock,
    random,
    accessTtlSec: config.tokens.accessTtlSec,
  })
  const accessTokens = createAccessTokens({ keyRing, clock, random, cfg: config.tokens })
  const gate = createSessionGate({ db, clock, bus })
  const mfaSummary = () => Promise.resolve(noSecondFactor)
  const profiles = createProfileReader({
    db,
    clock,
    bus,
    mfaSummary,
  })
  const accounts = createAccountService({
    db,
    clock,
    random,
    hasher,
    audit,
    profiles,
    cfg: { passwordMinLength: config.passwords.minLength },
  })
  const sessions = createSessionService({
    db,
    clock,
    random,
    box,
    accessTokens,
    gate,
    audit,
    cfg: config.tokens,
  })
  const guard = createLoginThrottle({
    db,
    clock,
    counters,
    audit,
    metrics: observability.security,
    cfg: config.limits,
  })
  const loginFlow = createLoginFlow({ accounts, sessions, audit, guard })
  const cursors = createCursorCodec(deriveKey(config.secrets.key, 'gatehouse cursor v1'))
  const userDirectory = createUserDirectory({ db, cursors, mfaSummary })
  const routeLimits = createRouteLimits({
    counters,
    clock,
    rules: defaultRouteLimits(config.limits),
  })
  const accountLocks = createAccountLocks({ db, clock, audit, sessions, profiles })

  return {
    config,
    db,
    dialect,
    clock,
    random,
    box,
    hasher,
    bus,
    audit,
    auditTail: createAuditTail({ db }),
    keyRing,
    accessTokens,
    profiles,
    accounts,
    sessions,
    loginFlow,
    observability,
    cursors,
    userDirectory,
    routeLimits,
    accountLocks,
    resealers: [keyRing],
    redisStatus: () => redis?.status() ?? 'disabled',
    watchRedis: (listener) => redis?.watch(listener) ?? (() => undefined),
    async close() {
      await redis?.close()
      await closeDb()
    },
  }
}
