import { ConfigError, InvalidValue } from './errors.js'
import { formatMailbox } from './parsers.js'
import type { Config } from './types.js'
import { quote, variables } from './variables.js'
import type { ValueOf, Variable, VariableName } from './variables.js'

export { ConfigError } from './errors.js'

export interface LoadConfigOptions {
  /**
   * Supplies the key when GATEHOUSE_SECRET_KEY is unset outside production; serve.ts passes
   * `() => loadOrCreateDevSecretKey('./data/secret.key')` so that loadConfig itself stays pure.
   */
  devSecretKey?: () => { key: Buffer; generated: boolean; path?: string }
}

type Env = Readonly<Record<string, string | undefined>>

function readOne<T>(env: Env, name: string, v: Variable<T>): T | undefined {
  const set = env[name]?.trim()
  const raw = set === undefined || (set === '' && v.emptyMeansNone !== true) ? v.default : set
  if (raw === undefined) return undefined
  try {
    return v.parse(raw)
  } catch (err) {
    if (!(err instanceof InvalidValue)) throw err
    throw new ConfigError(name, `${v.rule} (got ${err.got ?? (v.show ?? quote)(raw)})`)
  }
}

/** Parses every variable in table order, so the reported failure is the first in the table. */
function readAll(env: Env) {
  const table: Readonly<Record<string, Variable<unknown>>> = variables
  const values = new Map<string, unknown>()
  for (const [name, v] of Object.entries(table)) values.set(name, readOne(env, name, v))
  const optional = <K extends VariableName>(name: K) => values.get(name) as ValueOf<K> | undefined
  /** `when` explains a conditional requirement; without it the table default guarantees a value. */
  const required = <K extends VariableName>(name: K, when?: string): ValueOf<K> => {
    const value = optional(name)
    if (value === undefined) {
      throw new ConfigError(name, when === undefined ? 'is required' : `is required ${when}`)
    }
    return value
  }
  return { optional, required }
}

type Values = ReturnType<typeof readAll>

const keyHint = 'set 32 bytes as base64 or hex (e.g. from "openssl rand -base64 32")'

function secrets(values: Values, env: Config['env'], opts: LoadConfigOptions): Config['secrets'] {
  const oldKeys = values.required('GATEHOUSE_OLD_SECRET_KEYS').map((k) => Buffer.from(k))
  const set = values.optional('GATEHOUSE_SECRET_KEY')
  if (set !== undefined)
    return { key: Buffer.from(set), oldKeys, generated: false, source: 'GATEHOUSE_SECRET_KEY' }
  // A generated key in production would silently differ per instance and per redeploy,
  // making every encrypted secret unreadable.
  if (env === 'production') {
    throw new ConfigError(
      'GATEHOUSE_SECRET_KEY',
      `is required when NODE_ENV=production; ${keyHint}`,
    )
  }
  if (opts.devSecretKey === undefined) {
    throw new ConfigError('GATEHOUSE_SECRET_KEY', `is required; ${keyHint}`)
  }
  const dev = opts.devSecretKey()
  if (dev.key.length !== 32) {
    throw new ConfigError(
      'GATEHOUSE_SECRET_KEY',
      `the development key must be 32 bytes (got ${dev.key.length} bytes)`,
    )
  }
  return {
    key: Buffer.from(dev.key),
    oldKeys,
    generated: dev.generated,
    source: dev.path ?? 'a development key',
  }
}

function sms(values: Values): Config['sms'] {
  const provider = values.required('SMS_PROVIDER')
  switch (provider) {
    case 'log':
      return { provider }
    case 'webhook':
      return {
        provider,
        webhookUrl: values.required('SMS_WEBHOOK_URL', 'when SMS_PROVIDER=webhook'),
      }
    case 'twilio': {
      const when = 'when SMS_PROVIDER=twilio'
      return {
        provider,
        accountSid: values.required('TWILIO_ACCOUNT_SID', when),
        authToken: values.required('TWILIO_AUTH_TOKEN', when),
        from: values.required('TWILIO_FROM', when),
        apiUrl: values.required('TWILIO_API_URL', when),
      }
    }
  }
}

function webauthn(values: Values, publicUrl: URL): Config['webauthn'] {
  const rpId = values.optional('WEBAUTHN_RP_ID') ?? publicUrl.hostname
  const origins = values.optional('WEBAUTHN_ORIGINS') ?? [publicUrl.origin]
  // Browsers refuse a ceremony whose origin is not the RP id or one of its subdomains; saying so
  // at start-up beats a passkey prompt that fails for every user.
  const foreign = origins.find((o) => {
    const host = new URL(o).hostname
    return host !== rpId && !host.endsWith(`.${rpId}`)
  })
  if (foreign !== undefined) {
    const name =
      values.optional('WEBAUTHN_ORIGINS') === undefined ? 'WEBAUTHN_RP_ID' : 'WEBAUTHN_ORIGINS'
    throw new ConfigError(
      name,
      `every passkey origin must be on ${rpId} or a subdomain of it (got ${quote(foreign)})`,
    )
  }
  return { rpId, origins }
}

/** Freezes all the way down; Buffers are left alone because typed arrays cannot be frozen. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !ArrayBuffer.isView(value)) {
    const children: unknown[] = Object.values(value)
    for (const child of children) deepFreeze(child)
    Object.freeze(value)
  }
  return value
}

/**
 * Validates the environment against SPEC §2 and returns a deep-frozen Config. Pure apart from
 * `opts.devSecretKey`. Throws ConfigError, whose one-line message names the variable and rule.
 */
export function loadConfig(env: Env, opts: LoadConfigOptions = {}): Config {
  const values = readAll(env)
  const value = <K extends VariableName>(name: K) => values.required(name)
  const publicUrl = value('PUBLIC_URL')
  const appName = value('APP_NAME')
  const parsedPublicUrl = new URL(publicUrl)
  const nodeEnv = value('NODE_ENV')

  return deepFreeze({
    env: nodeEnv,
    http: {
      port: value('PORT'),
      host: value('HOST'),
      trustProxy: value('TRUST_PROXY'),
      corsOrigins: value('CORS_ORIGINS'),
      metricsToken: values.optional('METRICS_TOKEN'),
      publicUrl,
    },
    databaseUrl: value('DATABASE_URL'),
    redis: { url: values.optional('REDIS_URL'), prefix: value('REDIS_PREFIX') },
    secrets: secrets(values, nodeEnv, opts),
    appName,
    logLevel: value('LOG_LEVEL'),
    tokens: {
      issuer: publicUrl,
      audience: value('JWT_AUDIENCE'),
      accessTtlSec: value('ACCESS_TOKEN_TTL'),
      refreshTtlSec: value('REFRESH_TOKEN_TTL'),
      refreshReuseGraceSec: value('REFRESH_REUSE_GRACE'),
      sessionMaxAgeSec: value('SESSION_MAX_AGE'),
    },
    mail: {
      smtpUrl: values.optional('SMTP_URL'),
      from:
        values.optional('EMAIL_FROM') ??
        formatMailbox(appName, `no-reply@${parsedPublicUrl.hostname}`),
    },
    sms: sms(values),
    limits: {
      loginMaxFailures: value('LOGIN_MAX_FAILURES'),
      loginFailureWindowSec: value('LOGIN_FAILURE_WINDOW'),
      lockoutThreshold: value('LOCKOUT_THRESHOLD'),
      lockoutDurationSec: value('LOCKOUT_DURATION'),
      ipLoginMaxFailures: value('IP_LOGIN_MAX_FAILURES'),
      ipRegisterPerHour: value('IP_REGISTER_PER_HOUR'),
    },
    passwords: { minLength: value('PASSWORD_MIN_LENGTH') },
    requireMfaForRoles: value('REQUIRE_MFA_FOR_ROLES'),
    webauthn: webauthn(values, parsedPublicUrl),
    notifyEvents: value('NOTIFY_EVENTS'),
  })
}
