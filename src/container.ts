import type { Config } from './config/types.js'
import { createCodeHasher, createPasswordHasher, type PasswordHasher } from './crypto/hashing.js'
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
import { createCursorCodec, type CursorCodec } from './services/pagination.js'
import { createUserDirectory, type UserDirectory } from './services/users/directory.js'
import { deriveKey } from './crypto/secret-box.js'
import { createAuditLog, type AuditLog } from './services/audit/audit-log.js'
import { createLocalBus, type InvalidationBus } from './services/cache/invalidation.js'
import { unlimitedLoginGuard } from './services/login/login-guard.js'
import { createLoginFlow, type LoginFlow } from './services/login/login-flow.js'
import {
  systemClock,
  type Clock,
  type Mailer,
  type Random,
  type SmsSender,
} from './services/ports.js'
import { createSessionGate } from './services/sessions/session-gate.js'
import { createSessionService, type SessionService } from './services/sessions/session-service.js'
import { createAccessTokens, type AccessTokens } from './services/tokens/access-tokens.js'
import { createKeyRing, type KeyRing } from './services/tokens/key-ring.js'
import { createDb, type Db, type DialectName } from './store/db.js'

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
  codes: OneTimeCodes
  contacts: ContactVerification
  passwordReset: PasswordReset
  observability: Observability
  cursors: CursorCodec
  userDirectory: UserDirectory
  /** Everything holding secrets sealed under GATEHOUSE_SECRET_KEY, for `secrets rotate`. */
  resealers: { reseal(): Promise<number> }[]
  redisStatus(): 'ok' | 'unavailable' | 'disabled'
  close(): Promise<void>
}

export interface ContainerOverrides {
  clock?: Clock
  random?: Random
  /** Cheaper argon2 parameters for tests that are not about hashing. */
  hasherOptions?: Parameters<typeof createPasswordHasher>[0]
  defaultMetrics?: boolean
  /** Where the log mailer and SMS sender write, and background failures go; main.ts passes the app's. */
  logger?: NotifyLogger
}

/** The composition root: the only place that knows every layer. */
export function createContainer(config: Config, overrides: ContainerOverrides = {}): Services {
  const clock = overrides.clock ?? systemClock
  const random = overrides.random ?? cryptoRandom
  const { db, dialect, close: closeDb } = createDb(config.databaseUrl)
  const box = createSecretBox(config.secrets.key, config.secrets.oldKeys)
  const hasher = createPasswordHasher(overrides.hasherOptions)
  const bus = createLocalBus()
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
  const log = overrides.logger ?? stderrLogger
  const mail = createMailer(config.mail, log)
  const sms = createSmsSender(config.sms, log)
  const codeHasher = createCodeHasher(deriveKey(config.secrets.key, 'gatehouse code-hash v1'))
  // Passkeys (SPEC §4.9) hand their counter to createMfaSummaryReader({ passkeys }).
  const mfaSummary = createMfaSummaryReader({ db })
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
  const observability = createObservability({ defaultMetrics: overrides.defaultMetrics ?? true })
  const guard = unlimitedLoginGuard
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
  })
  const secondFactor = createSecondFactorCheck({ totp, backupCodes, codes, audit, profiles })
  const mfa = createMfaEnrolment({
    db,
    clock,
    passwords: hasher,
    totp,
    backupCodes,
    secondFactor,
    mfaSummary,
    audit,
    profiles,
    guard,
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
    onBackgroundError: (err) =>
      log.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'password reset request failed',
      ),
  })
  const cursors = createCursorCodec(deriveKey(config.secrets.key, 'gatehouse cursor v1'))
  const userDirectory = createUserDirectory({
    db,
    cursors,
    mfaSummary,
    mfaSummaries: createMfaSummariesReader({ db }),
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
    codes,
    contacts,
    passwordReset,
    observability,
    cursors,
    userDirectory,
    resealers: [keyRing, totp],
    redisStatus: () => 'disabled',
    async close() {
      await passwordReset.idle()
      mail.close()
      await closeDb()
    },
  }
}
