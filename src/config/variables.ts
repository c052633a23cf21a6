import { parseDuration } from './durations.js'
import { InvalidValue } from './errors.js'
import { NOTIFY_KINDS, type NotifyKind } from '../services/notifications/messages.js'
import {
  parseDatabaseUrl,
  parseHostname,
  parseHttpUrl,
  parseInteger,
  parseList,
  parseMailbox,
  parseOrigins,
  parsePublicOrigin,
  parseRedisUrl,
  parseSecretKey,
  parseSecretKeys,
  parseText,
  parseTrustProxy,
  parseUrlWithScheme,
} from './parsers.js'

/** One environment variable of SPEC §2. */
export interface Variable<T> {
  /** Raw default, validated by `parse` like a set value. Absent: unset is meaningful, or see `derivedDefault`. */
  readonly default?: string
  /** A default computed from other variables; load.ts applies it, this sentence documents it. */
  readonly derivedDefault?: string
  /** Completes "NAME: …" in the error line. */
  readonly rule: string
  readonly parse: (raw: string) => T
  /** Lists where an empty value means "none" rather than "use the default". */
  readonly emptyMeansNone?: boolean
  /** How the rejected value is echoed; keys and passwords must never reach the log. */
  readonly show?: (raw: string) => string
}

const variable = <T>(v: Variable<T>): Variable<T> => v

const duration = (min: number) => (s: string) => {
  const seconds = parseDuration(s)
  if (seconds < min) throw new InvalidValue(`below ${min}s`)
  return seconds
}
const durationRule = 'must be a duration such as 600s, 10m, 1h or 30d'
const positiveDurationRule = `${durationRule}, at least 1s`

const positiveInt = (s: string) => parseInteger(s, { min: 1 })
const positiveIntRule = 'must be a whole number of at least 1'

const word = (s: string) => parseText(s, { max: 256, allowSpaces: false })

/** How a rejected value is echoed by default: quoted, escaped onto one line, and cut short. */
export const quote = (raw: string): string =>
  JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw)
/** Echo a URL with its password masked. */
const withoutPassword = (raw: string): string =>
  quote(raw.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*):[^/@]*@/i, '$1:***@'))
const lengthOnly = (raw: string): string => `a ${raw.length}-character value`
/** Echo a URL with its user info and query masked: where a webhook's secret would be. */
const withoutCredentials = (raw: string): string =>
  quote(raw.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1***@').replace(/\?.*$/s, '?***'))

/** pino's levels, the quietest last. */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

const keyRule = 'must be 32 bytes written as base64 or hex (e.g. from "openssl rand -base64 32")'

/**
 * SPEC §2, one entry per variable, in the order they are validated: the first failure wins.
 * An empty value counts as unset (so `PORT=` in .env means the default), except where
 * `emptyMeansNone` says it is the empty list.
 */
export const variables = {
  NODE_ENV: variable({
    default: 'development',
    rule: 'is production, test (in any letter case), or anything else for development',
    // `Production` is a typo of production, not a wish for development: read as development it
    // would start without GATEHOUSE_SECRET_KEY, on a generated key file.
    parse: (s): 'development' | 'production' | 'test' => {
      const name = s.toLowerCase()
      return name === 'production' || name === 'test' ? name : 'development'
    },
  }),
  PORT: variable({
    default: '3000',
    rule: 'must be a port number from 1 to 65535',
    parse: (s) => parseInteger(s, { min: 1, max: 65_535 }),
  }),
  HOST: variable({
    default: '127.0.0.1',
    rule: 'must be a host name or IP address to listen on',
    parse: (s) => parseText(s, { max: 253, allowSpaces: false, forbid: /[/]/ }),
  }),
  DATABASE_URL: variable({
    default: 'sqlite:./data/gatehouse.db',
    rule: 'must start with sqlite:, postgres://, postgresql:// or mysql://',
    parse: parseDatabaseUrl,
    show: withoutPassword,
  }),
  REDIS_URL: variable({
    rule: 'must be a redis:// or rediss:// URL, optionally ending in a database number',
    parse: parseRedisUrl,
    show: withoutPassword,
  }),
  REDIS_PREFIX: variable({
    default: 'gatehouse:',
    rule: 'must be text without spaces',
    parse: word,
  }),
  GATEHOUSE_SECRET_KEY: variable({
    derivedDefault: 'development: generated once into ./data/secret.key; production: required',
    rule: keyRule,
    parse: parseSecretKey,
    show: lengthOnly,
  }),
  GATEHOUSE_OLD_SECRET_KEYS: variable({
    default: '',
    emptyMeansNone: true,
    rule: `must be a comma-separated list of keys, each ${keyRule.replace(/^must be /, '')}`,
    parse: parseSecretKeys,
    show: lengthOnly,
  }),
  PUBLIC_URL: variable({
    default: 'http://localhost:3000',
    // An origin only: Gatehouse serves its API, web UI, cookies (Path=/api/auth) and OIDC
    // endpoints from the root, so a path here would name URLs that answer nothing.
    rule: 'must be an http(s) origin without a path, credentials, query or fragment, such as https://auth.example.com',
    parse: parsePublicOrigin,
  }),
  LOG_LEVEL: variable({
    default: 'info',
    rule: `must be one of ${LOG_LEVELS.join(', ')}`,
    parse: (s): LogLevel => {
      if ((LOG_LEVELS as readonly string[]).includes(s)) return s as LogLevel
      throw new InvalidValue(`unknown log level: ${JSON.stringify(s)}`)
    },
  }),
  APP_NAME: variable({
    default: 'Gatehouse',
    // The TOTP key URI separates issuer and account with a colon (SPEC §4.8).
    rule: 'must be 1 to 64 characters without colons or control characters',
    parse: (s) => parseText(s, { max: 64, allowSpaces: true, forbid: /:/ }),
  }),
  ACCESS_TOKEN_TTL: variable({ default: '600s', rule: positiveDurationRule, parse: duration(1) }),
  REFRESH_TOKEN_TTL: variable({ default: '30d', rule: positiveDurationRule, parse: duration(1) }),
  REFRESH_REUSE_GRACE: variable({ default: '10s', rule: durationRule, parse: duration(0) }),
  SESSION_MAX_AGE: variable({ default: '90d', rule: positiveDurationRule, parse: duration(1) }),
  JWT_AUDIENCE: variable({
    default: 'gatehouse',
    rule: 'must be text without spaces',
    parse: word,
  }),
  CORS_ORIGINS: variable({
    default: '',
    rule: 'must be a comma-separated list of origins such as https://app.example.com',
    parse: parseOrigins,
  }),
  METRICS_TOKEN: variable({
    rule: 'must be at least 32 characters of letters, digits and -._~+/ (e.g. openssl rand -hex 32)',
    parse: (s) => {
      // RFC 6750's b64token: what an Authorization: Bearer header can carry.
      if (!/^[A-Za-z0-9\-._~+/]{32,256}$/.test(s)) throw new InvalidValue('not a bearer token')
      return s
    },
    show: lengthOnly,
  }),
  TRUST_PROXY: variable({
    default: 'false',
    rule: 'must be false, true, a hop count, or comma-separated proxy addresses/CIDRs',
    parse: parseTrustProxy,
  }),
  SMTP_URL: variable({
    rule: 'must be an smtp:// or smtps:// URL',
    parse: (s) => parseUrlWithScheme(s, ['smtp:', 'smtps:']),
    show: withoutPassword,
  }),
  EMAIL_FROM: variable({
    derivedDefault: 'APP_NAME <no-reply@host of PUBLIC_URL>',
    rule: 'must be an email address, optionally with a name, such as Gatehouse <no-reply@example.com>',
    parse: parseMailbox,
  }),
  SMS_PROVIDER: variable({
    default: 'log',
    rule: 'must be log, webhook or twilio',
    parse: (s): 'log' | 'webhook' | 'twilio' => {
      if (s === 'log' || s === 'webhook' || s === 'twilio') return s
      throw new InvalidValue(`unknown SMS provider: ${JSON.stringify(s)}`)
    },
  }),
  SMS_WEBHOOK_URL: variable({
    rule: 'must be an http(s) URL without user, password or query (required when SMS_PROVIDER=webhook)',
    parse: parseHttpUrl,
    show: withoutCredentials,
  }),
  TWILIO_ACCOUNT_SID: variable({
    rule: 'must be text without spaces (required when SMS_PROVIDER=twilio)',
    parse: word,
  }),
  TWILIO_AUTH_TOKEN: variable({
    rule: 'must be text without spaces (required when SMS_PROVIDER=twilio)',
    parse: word,
    show: lengthOnly,
  }),
  TWILIO_FROM: variable({
    rule: 'must be a phone number or sender id without spaces (required when SMS_PROVIDER=twilio)',
    parse: word,
  }),
  TWILIO_API_URL: variable({
    default: 'https://api.twilio.com',
    rule: 'must be an http(s) URL without user, password or query',
    parse: parseHttpUrl,
    show: withoutCredentials,
  }),
  LOGIN_MAX_FAILURES: variable({ default: '5', rule: positiveIntRule, parse: positiveInt }),
  LOGIN_FAILURE_WINDOW: variable({
    default: '15m',
    rule: positiveDurationRule,
    parse: duration(1),
  }),
  LOCKOUT_THRESHOLD: variable({ default: '10', rule: positiveIntRule, parse: positiveInt }),
  LOCKOUT_DURATION: variable({ default: '15m', rule: positiveDurationRule, parse: duration(1) }),
  IP_LOGIN_MAX_FAILURES: variable({ default: '100', rule: positiveIntRule, parse: positiveInt }),
  IP_REGISTER_PER_HOUR: variable({ default: '20', rule: positiveIntRule, parse: positiveInt }),
  PASSWORD_MIN_LENGTH: variable({
    default: '12',
    // NIST SP 800-63B: at least 8; and passwords up to 128 characters must always be accepted.
    rule: 'must be a whole number from 8 to 128',
    parse: (s) => parseInteger(s, { min: 8, max: 128 }),
  }),
  REQUIRE_MFA_FOR_ROLES: variable({
    default: 'admin',
    emptyMeansNone: true,
    rule: 'must be a comma-separated list of role names (lower case: a-z 0-9 . _ -; empty for none)',
    // A name no role can have (`Admin`) would switch the requirement off without a word.
    parse: (s) =>
      [...new Set(parseList(s))].map((name) => {
        if (!/^[a-z][a-z0-9_.-]{0,63}$/.test(name))
          throw new InvalidValue(`not a role name: ${JSON.stringify(name)}`)
        return name
      }),
  }),
  NOTIFY_EVENTS: variable({
    default: NOTIFY_KINDS.join(','),
    emptyMeansNone: true,
    rule: `must be a comma-separated list of ${NOTIFY_KINDS.join(', ')} (empty for none)`,
    parse: (s) => {
      const kinds = parseList(s)
      const unknown = kinds.find((k) => !(NOTIFY_KINDS as readonly string[]).includes(k))
      if (unknown !== undefined) throw new InvalidValue(`unknown kind ${JSON.stringify(unknown)}`)
      return [...new Set(kinds)] as NotifyKind[]
    },
  }),
  WEBAUTHN_RP_ID: variable({
    derivedDefault: 'host of PUBLIC_URL',
    rule: 'must be a domain name such as example.com, without scheme or port',
    parse: parseHostname,
  }),
  WEBAUTHN_ORIGINS: variable({
    derivedDefault: 'origin of PUBLIC_URL',
    rule: 'must be a comma-separated list of origins such as https://example.com',
    parse: (s) => {
      const origins = parseOrigins(s)
      if (origins.length === 0) throw new InvalidValue('no origins')
      return origins
    },
  }),
}

export type VariableName = keyof typeof variables
export type ValueOf<K extends VariableName> =
  (typeof variables)[K] extends Variable<infer T> ? T : never
