import type { Config } from './config/types.js'
import { createCodeHashes } from './crypto/code-hashes.js'
import { createPasswordHasher, type PasswordHasher } from './crypto/password-hasher.js'
import { cryptoRandom } from './crypto/random.js'
import { createSecretBox, type SecretBox } from './crypto/secret-box.js'
import { createObservability, type Observability } from './observability/prometheus.js'
import { createAccountService, type AccountService } from './services/accounts/accounts.js'
import { createMailer, createSmsSender, stderrLogger, type NotifyLogger } from './notify/index.js'
import {
  createProfileReader,
  type MfaSummaryReader,
  type ProfileReader,
} from './services/accounts/user-profile.js'
import {
  createContactVerification,
  type ContactVerification,
} from './services/codes/contact-verification.js'
import { createOneTimeCodes, type OneTimeCodes } from './services/codes/one-time-codes.js'
import { createPasswordReset, type PasswordReset } from './services/codes/password-reset.js'
import { createBackupCodes } from './services/mfa/backup-codes.js'
import { createMfaEnrolment, type MfaEnrolment } from './services/mfa/enrolment.js'
import { createMfaSummariesReader, createMfaSummaryReader } from './services/mfa/factors.js'
import { createMfaTokens } from './services/mfa/mfa-tokens.js'
import { createSecondFactorCheck } from './services/mfa/second-factor.js'
import { createTotpFactor, type TotpFactor } from './services/mfa/totp-factor.js'
import { createUserAdmin, type UserAdmin } from './services/admin/user-admin.js'
import { createApiKeys, type ApiKeys } from './services/apikeys/api-keys.js'
import { createAuditReader, type AuditReader } from './services/audit/audit-query.js'
import { createUserImport, type UserImport } from './services/import/user-import.js'
import { createPostureReader } from './services/posture/posture.js'
import { createNotMe, type NotMe } from './services/notifications/not-me.js'
import { createNotifier, type Notifier } from './services/notifications/notifier.js'
import { createCursorCodec } from './services/pagination.js'
import { createProducts, type Products } from './services/products/products.js'
import { createPermissionResolver, type PermissionResolver } from './services/roles/permissions.js'
import { createRoleAdmin, type RoleAdmin } from './services/roles/role-admin.js'
import { createTotpService, type TotpService } from './services/totp-service/totp-service.js'
import { createUserDirectory, type UserDirectory } from './services/users/directory.js'
import { deriveKey } from './crypto/secret-box.js'
import { createAuditLog, type AuditLog } from './services/audit/audit-log.js'
import { createAuditTail, type AuditTail } from './services/audit/audit-tail.js'
import { createAuditChainCheck, type AuditChainCheck } from './services/audit/audit-chain-check.js'
import { createAuditSealer, type AuditSealer } from './services/audit/audit-sealer.js'
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
import { createLoginCompletion } from './services/login/complete-login.js'
import { createLoginFlow, type LoginFlow } from './services/login/login-flow.js'
import { createPasskeyLogin, type PasskeyLogin } from './services/login/passkey-login.js'
import { createPasskeyAssertions, type PasskeyAssertions } from './services/passkeys/assertions.js'
import { createPasskeyChallenges } from './services/passkeys/challenges.js'
import {
  createPasskeyCredentials,
  type PasskeyCredentials,
} from './services/passkeys/credentials.js'
import {
  createPasskeyRegistration,
  type PasskeyRegistration,
} from './services/passkeys/registration.js'
import { createPasswordRecheck } from './services/login/password-recheck.js'
import { createCodeHashKeys } from './services/secrets/code-hash-key.js'
import {
  loggable,
  systemClock,
  type Clock,
  type Mailer,
  type Random,
  type SmsSender,
} from './services/ports.js'
import { createSealedKeyCheck, type SealedKeyCheck } from './services/secrets/sealed-keys.js'
import { createSessionGate } from './services/sessions/session-gate.js'
import { createSessionService, type SessionService } from './services/sessions/session-service.js'
import { createAccessTokens, type AccessTokens } from './services/tokens/access-tokens.js'
import { createKeyRing, type KeyRing } from './services/tokens/key-ring.js'
import {
  createOidcBrowserSessions,
  type OidcBrowserSessions,
} from './services/oidc/browser-sessions.js'
import { createOidcClients, type OidcClients } from './services/oidc/clients.js'
import { createOidcInteractions, type OidcInteractions } from './services/oidc/interactions.js'
import { createOidcProvider, type OidcProvider } from './services/oidc/provider.js'
import { createDb, databaseStatus, type Db, type DialectName } from './store/db.js'
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
  /** Seals audit rows into the hash chain (SPEC §4.14). */
  auditSealer: AuditSealer
  /** `gatehouse audit verify` / `audit export`. */
  auditChain: AuditChainCheck
  /** Security notifications: the outbox and its delivery worker (SPEC §4.13). */
  notifier: Notifier
  notMe: NotMe
  keyRing: KeyRing
  accessTokens: AccessTokens
  profiles: ProfileReader
  accounts: AccountService
  sessions: SessionService
  loginFlow: LoginFlow
  mailer: Mailer
  sms: SmsSender
  mfaSummary: MfaSummaryReader
  totp: TotpFactor
  mfa: MfaEnrolment
  /** SPEC §4.9: adding and listing passkeys, and passwordless sign-in. */
  passkeys: {
    registration: PasskeyRegistration
    credentials: PasskeyCredentials
    assertions: PasskeyAssertions
    login: PasskeyLogin
  }
  codes: OneTimeCodes
  contacts: ContactVerification
  passwordReset: PasswordReset
  observability: Observability
  userDirectory: UserDirectory
  permissions: PermissionResolver
  roleAdmin: RoleAdmin
  userAdmin: UserAdmin
  apiKeys: ApiKeys
  auditReader: AuditReader
  totpService: TotpService
  products: Products
  userImport: UserImport
  /** The OpenID provider (SPEC §4.12): its clients, the provider itself, login and consent. */
  oidcClients: OidcClients
  oidc: OidcProvider
  oidcInteractions: OidcInteractions
  oidcBrowserSessions: OidcBrowserSessions
  /** The sliding-window limits routes name in `config.rateLimit` (SPEC §4.5). */
  routeLimits: RouteLimits
  /** Admin locks and the automatic lockout: lock, unlock (CLI, admin API). */
  accountLocks: AccountLocks
  /** Whether this process holds every key the database's sealed secrets need (start-up). */
  sealedKeys: SealedKeyCheck
  /** Everything holding secrets sealed under GATEHOUSE_SECRET_KEY, for `secrets rotate`. */
  resealers: { reseal(): Promise<number> }[]
  databaseStatus(): Promise<'ok' | 'unavailable'>
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
  /** Where the log mailer and SMS sender write, and background failures go; serve.ts passes the app's. */
  logger?: NotifyLogger
}

/** The composition root: the only place that knows every layer. */
export function createContainer(config: Config, overrides: ContainerOverrides = {}): Services {
  const clock = overrides.clock ?? systemClock
  const random = overrides.random ?? cryptoRandom
  const log = overrides.logger ?? stderrLogger
  const { db, dialect, close: closeDb } = createDb(config.databaseUrl)
  const box = createSecretBox(config.secrets.key, config.secrets.oldKeys)
  const hasher = createPasswordHasher(overrides.hasherOptions)
  const observability = createObservability({ defaultMetrics: overrides.defaultMetrics ?? true })
  const redis = config.redis.url
    ? createRedisLink(config.redis.url, config.redis.prefix)
    : undefined
  const localBus = createLocalBus()
  const bus = redis
    ? createSharedBus({ local: localBus, pubsub: redis, instanceId: newId(random), log })
    : localBus
  const counters = counterFactory({ redis: redis?.client, prefix: config.redis.prefix })
  const auditSealer = createAuditSealer({
    db,
    clock,
    intervalMs: 2_000,
    // A pass has a fixed cost (two reads, a transaction): one per half second spreads it over
    // every login of that window. The audit query, export and chain check seal first anyway.
    coalesceMs: 500,
    log,
  })
  const mail = createMailer(config.mail, log)
  const sms = createSmsSender(config.sms, log)
  const notifier = createNotifier({
    db,
    clock,
    random,
    mailer: mail.mailer,
    sms,
    log,
    cfg: {
      kinds: new Set(config.notifyEvents),
      publicUrl: config.http.publicUrl,
      appName: config.appName,
      intervalMs: 5_000,
    },
  })
  const audit = createAuditLog({
    db,
    clock,
    written: () => auditSealer.kick(),
    sideEffects: notifier,
  })
  const posture = createPostureReader({
    db,
    clock,
    maxAgeSec: 60,
    retryAfterSec: 10,
    refreshTtlSec: config.tokens.refreshTtlSec,
    log,
  })
  observability.watchPosture(() => posture.snapshot())
  observability.watchHasher(() => hasher.load())
  const keyRing = createKeyRing({
    db,
    box,
    clock,
    random,
    accessTtlSec: config.tokens.accessTtlSec,
    log: { error: (obj, msg) => (log.error ? log.error(obj, msg) : log.warn(obj, msg)) },
    audit,
  })
  const accessTokens = createAccessTokens({ keyRing, clock, random, cfg: config.tokens })
  const gate = createSessionGate({ db, clock, bus })
  const codeHashKeys = createCodeHashKeys({
    db,
    box,
    clock,
    secretKey: config.secrets.key,
    oldSecretKeys: config.secrets.oldKeys,
  })
  const codeHasher = createCodeHashes(() => codeHashKeys.keys())
  const mfaSummary = createMfaSummaryReader({ db })
  const profiles = createProfileReader({
    db,
    clock,
    bus,
    mfaSummary,
  })
  const guard = createLoginThrottle({
    db,
    clock,
    random,
    counters,
    audit,
    metrics: observability.security,
    cfg: config.limits,
    profiles,
  })
  const recheck = createPasswordRecheck({ db, hasher, guard, audit })
  const accounts = createAccountService({
    db,
    clock,
    random,
    hasher,
    audit,
    profiles,
    recheck,
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
  const totp = createTotpFactor({ db, box, clock, random, appName: config.appName })
  const backupCodes = createBackupCodes({ db, clock, random, hasher: codeHasher })
  const codes = createOneTimeCodes({
    db,
    clock,
    random,
    hasher: codeHasher,
    mailer: mail.mailer,
    sms,
    appName: config.appName,
    log,
    counters,
    metrics: observability.security,
  })
  const secondFactor = createSecondFactorCheck({ totp, backupCodes, codes, audit, profiles })
  const passkeyCfg = {
    rpId: config.webauthn.rpId,
    rpName: config.appName,
    origins: config.webauthn.origins,
  }
  const passkeyChallenges = createPasskeyChallenges({ db, clock, random })
  const passkeyCredentials = createPasskeyCredentials({ db, audit, profiles })
  const passkeyAssertions = createPasskeyAssertions({
    db,
    clock,
    audit,
    challenges: passkeyChallenges,
    cfg: passkeyCfg,
  })
  const mfa = createMfaEnrolment({
    db,
    clock,
    recheck,
    totp,
    backupCodes,
    secondFactor,
    mfaSummary,
    audit,
    profiles,
    alsoRemove: [(trx, userId) => passkeyCredentials.removeAllWithin(trx, userId)],
  })
  const passkeyRegistration = createPasskeyRegistration({
    db,
    clock,
    random,
    audit,
    profiles,
    challenges: passkeyChallenges,
    assertMayEnrol: (who) => mfa.assertMayEnrol(who),
    cfg: passkeyCfg,
  })
  const passkeyLogin = createPasskeyLogin({
    db,
    guard,
    audit,
    metrics: observability.security,
    passkeys: passkeyAssertions,
    complete: createLoginCompletion({ sessions, audit }),
  })
  const loginFlow = createLoginFlow({
    db,
    accounts,
    sessions,
    audit,
    guard,
    metrics: observability.security,
    mfaSummary,
    mfaTokens: createMfaTokens({ db, clock, random }),
    secondFactor,
    codes,
    passkeys: passkeyAssertions,
  })
  const contacts = createContactVerification({ db, clock, codes, audit, profiles })
  const passwordReset = createPasswordReset({
    db,
    clock,
    codes,
    accounts,
    passwords: hasher,
    sessions,
    audit,
    profiles,
    log,
  })
  const cursorKey = deriveKey(config.secrets.key, 'gatehouse cursor v1')
  const cursorsFor = (list: string) => createCursorCodec(cursorKey, list)
  const userDirectory = createUserDirectory({
    db,
    clock,
    cursors: cursorsFor('users'),
    mfaSummary,
    mfaSummaries: createMfaSummariesReader({ db }),
  })
  const permissions = createPermissionResolver({
    db,
    clock,
    bus,
    mfaRoles: config.requireMfaForRoles,
  })
  const roleAdmin = createRoleAdmin({ db, clock, audit, permissions })
  const apiKeys = createApiKeys({ db, clock, random, audit, cursors: cursorsFor('api-keys'), bus })
  const auditReader = createAuditReader({
    db,
    cursors: cursorsFor('audit-log'),
    sealer: auditSealer,
  })
  const totpService = createTotpService({ db, clock, random, box, audit, appName: config.appName })
  const products = createProducts({ db, clock, random, cursors: cursorsFor('products') })
  const userImport = createUserImport({ db, clock, random, audit, totpWriter: totp.writeImported })
  const routeLimits = createRouteLimits({
    counters,
    clock,
    rules: defaultRouteLimits(config.limits),
  })
  // The lazy sweep (logins, refreshes) misses a quiet instance; this one does not. It waits
  // for the first lazy one: the container is built before the migrations run, and a sweep of
  // a fresh database still being migrated failed on a table not yet there.
  const successorSweep = setInterval(
    () => {
      if (!sessions.hasSwept()) return
      sessions
        .forgetSpentSuccessors()
        .catch((err: unknown) => log.warn({ err: loggable(err) }, 'successor sweep failed'))
    },
    Math.max(1000, config.tokens.refreshReuseGraceSec * 1000),
  )
  successorSweep.unref()
  const accountLocks = createAccountLocks({ db, clock, audit, sessions, profiles })
  const userAdmin = createUserAdmin({
    db,
    clock,
    audit,
    profiles,
    sessions,
    mfaReset: mfa.removeAll,
    accountLocks,
  })

  const oidcClients = createOidcClients({
    db,
    clock,
    random,
    audit,
    cursors: cursorsFor('oidc-clients'),
    validate: async (metadata) => {
      const provider = await oidc.provider()
      await provider.Client.validate(metadata as Parameters<typeof provider.Client.validate>[0])
    },
  })
  const oidc = createOidcProvider({
    db,
    clock,
    keyRing,
    clients: oidcClients,
    audit,
    cfg: {
      issuer: config.tokens.issuer,
      accessTtlSec: config.tokens.accessTtlSec,
      refreshTtlSec: config.tokens.refreshTtlSec,
      cookieKeys: [config.secrets.key, ...config.secrets.oldKeys].map((key) =>
        deriveKey(key, 'gatehouse oidc cookies v1').toString('base64url'),
      ),
    },
    log,
    onSignedOut: (uid, accountId, context) =>
      oidcBrowserSessions.signedOut(uid, accountId, context),
  })
  const oidcInteractions = createOidcInteractions({
    db,
    clock,
    oidc,
    clients: oidcClients,
    audit,
  })
  sessions.onSessionsEnded((trx, ids) => oidcInteractions.endGatehouseSessions(trx, ids))
  const oidcBrowserSessions = createOidcBrowserSessions({
    db,
    clock,
    oidc,
    clients: oidcClients,
    sessions,
    cfg: {
      sessionTtlSec: config.tokens.refreshTtlSec,
      sessionMaxAgeSec: config.tokens.sessionMaxAgeSec,
      secure: config.http.publicUrl.startsWith('https:'),
    },
  })

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
    auditSealer,
    auditChain: createAuditChainCheck({ db, sealer: auditSealer }),
    notifier,
    notMe: createNotMe({ clock, sessions, audit, profiles }),
    keyRing,
    accessTokens,
    profiles,
    accounts,
    sessions,
    loginFlow,
    mailer: mail.mailer,
    sms,
    mfaSummary,
    totp,
    mfa,
    passkeys: {
      registration: passkeyRegistration,
      credentials: passkeyCredentials,
      assertions: passkeyAssertions,
      login: passkeyLogin,
    },
    codes,
    contacts,
    passwordReset,
    observability,
    userDirectory,
    permissions,
    roleAdmin,
    userAdmin,
    apiKeys,
    auditReader,
    totpService,
    products,
    userImport,
    oidcClients,
    oidc,
    oidcInteractions,
    oidcBrowserSessions,
    routeLimits,
    accountLocks,
    sealedKeys: createSealedKeyCheck({ db, box }),
    resealers: [keyRing, totpService, totp, codeHashKeys],
    databaseStatus: () => databaseStatus(db),
    redisStatus: () => redis?.status() ?? 'disabled',
    watchRedis: (listener) => redis?.watch(listener) ?? (() => undefined),
    async close() {
      clearInterval(successorSweep)
      await passwordReset.idle()
      await notifier.stop()
      await auditSealer.stop()
      mail.close()
      await redis?.close()
      await closeDb()
    },
  }
}
