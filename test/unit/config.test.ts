import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  ConfigError,
  loadConfig,
  loadDevSecretKey,
  loadOrCreateDevSecretKey,
  parseDuration,
  variables,
} from '../../src/config/index.js'
import type { Config } from '../../src/config/index.js'
import {
  parseBoolean,
  parseDatabaseUrl,
  parseHttpUrl,
  parseInteger,
  parseList,
  parseMailbox,
  parseOrigin,
  parseSecretKey,
  parseTrustProxy,
} from '../../src/config/parsers.js'

const key = Buffer.alloc(32, 7)
const keyB64 = key.toString('base64')
const keyHex = key.toString('hex')
const otherKey = Buffer.alloc(32, 9)

/** A valid environment plus overrides; tests of the secret key pass it explicitly. */
const load = (overrides: Record<string, string | undefined> = {}): Config =>
  loadConfig({ GATEHOUSE_SECRET_KEY: keyB64, ...overrides })

/** The one-line message loadConfig throws for `overrides`, or a failure if it does not throw. */
function failure(overrides: Record<string, string | undefined>): ConfigError {
  try {
    load(overrides)
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return err as ConfigError
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(overrides)}`)
}

describe('parseDuration', () => {
  it.each([
    ['600s', 600],
    ['10m', 600],
    ['1h', 3600],
    ['30d', 2_592_000],
    ['45', 45],
    ['0', 0],
    ['0s', 0],
    [' 5m ', 300],
  ])('%j is %i seconds', (s, seconds) => {
    expect(parseDuration(s)).toBe(seconds)
  })

  it.each(['', 'ten', '10M', '1.5h', '-1s', '10 m', '1w', 's', '99999999999999999999d'])(
    'rejects %j',
    (s) => {
      expect(() => parseDuration(s)).toThrow()
    },
  )
})

describe('small parsers', () => {
  it.each([
    ['1', 1],
    ['65535', 65535],
  ])('parseInteger(%j) in 1..65535', (s, n) => {
    expect(parseInteger(s, { min: 1, max: 65535 })).toBe(n)
  })

  it.each(['0', '65536', '', '1e3', '0x10', '-1', '3.0', '12a'])('parseInteger rejects %j', (s) => {
    expect(() => parseInteger(s, { min: 1, max: 65535 })).toThrow()
  })

  it.each([
    ['true', true],
    ['TRUE', true],
    ['1', true],
    ['false', false],
    ['0', false],
  ])('parseBoolean(%j) is %s', (s, b) => {
    expect(parseBoolean(s)).toBe(b)
  })

  it('parseBoolean rejects other words', () => {
    expect(() => parseBoolean('maybe')).toThrow()
  })

  it.each([
    ['', []],
    ['a', ['a']],
    [' a , b ,, c ', ['a', 'b', 'c']],
  ])('parseList(%j)', (s, list) => {
    expect(parseList(s)).toEqual(list)
  })

  it.each([
    ['http://localhost:3000', 'http://localhost:3000'],
    ['https://Auth.Example.com/', 'https://auth.example.com'],
    ['https://example.com:443/auth/', 'https://example.com/auth'],
  ])('parseHttpUrl(%j) is %j', (s, url) => {
    expect(parseHttpUrl(s)).toBe(url)
  })

  it.each([
    'localhost:3000',
    'ftp://example.com',
    'https://user:pw@example.com',
    'https://example.com/?a=1',
    'https://example.com/#x',
    'http:example.com',
    'https://exa mple.com',
  ])('parseHttpUrl rejects %j', (s) => {
    expect(() => parseHttpUrl(s)).toThrow()
  })

  it.each([
    ['https://app.example.com', 'https://app.example.com'],
    ['https://app.example.com/', 'https://app.example.com'],
    ['http://localhost:5173', 'http://localhost:5173'],
  ])('parseOrigin(%j)', (s, origin) => {
    expect(parseOrigin(s)).toBe(origin)
  })

  it.each(['*', 'https://app.example.com/path', 'app.example.com', 'https://a.com?x'])(
    'parseOrigin rejects %j',
    (s) => {
      expect(() => parseOrigin(s)).toThrow()
    },
  )

  it.each([
    ['base64', keyB64],
    ['unpadded base64', keyB64.replace(/=+$/, '')],
    ['base64url', Buffer.alloc(32, 0xfb).toString('base64url')],
    ['hex', keyHex],
    ['upper-case hex', keyHex.toUpperCase()],
  ])('parseSecretKey accepts %s', (_, s) => {
    expect(parseSecretKey(s)).toHaveLength(32)
  })

  it.each([
    ['16 bytes of base64', Buffer.alloc(16).toString('base64')],
    ['33 bytes of base64', Buffer.alloc(33).toString('base64')],
    ['31 bytes of hex', Buffer.alloc(31).toString('hex')],
    ['a passphrase', 'correct horse battery staple'],
    ['empty', ''],
  ])('parseSecretKey rejects %s', (_, s) => {
    expect(() => parseSecretKey(s)).toThrow()
  })

  it.each([
    ['false', false],
    ['FALSE', false],
    ['true', true],
    ['0', false],
    ['2', 2],
    ['10.0.0.1', ['10.0.0.1']],
    ['10.0.0.0/8, 192.168.1.1', ['10.0.0.0/8', '192.168.1.1']],
    ['::1,fd00::/8', ['::1', 'fd00::/8']],
    ['loopback,uniquelocal', ['loopback', 'uniquelocal']],
  ])('parseTrustProxy(%j)', (s, value) => {
    expect(parseTrustProxy(s)).toEqual(value)
  })

  it.each(['yes', '10.0.0.0/33', '::1/129', 'proxy.internal', '10.0.0.1/8/2', ','])(
    'parseTrustProxy rejects %j',
    (s) => {
      expect(() => parseTrustProxy(s)).toThrow()
    },
  )

  it.each([
    'sqlite:./data/gatehouse.db',
    'sqlite::memory:',
    'postgres://u:p@db:5432/gatehouse',
    'postgresql://db/gatehouse',
    'mysql://root@127.0.0.1:3306/gatehouse',
  ])('parseDatabaseUrl accepts %j', (s) => {
    expect(parseDatabaseUrl(s)).toBe(s)
  })

  it.each(['sqlite:', './data/x.db', 'mongodb://db/x', 'postgres:/db', 'mariadb://db/x'])(
    'parseDatabaseUrl rejects %j',
    (s) => {
      expect(() => parseDatabaseUrl(s)).toThrow()
    },
  )

  it.each(['no-reply@example.com', 'Gatehouse <no-reply@example.com>', '"A, B" <a@b.c>'])(
    'parseMailbox accepts %j',
    (s) => {
      expect(parseMailbox(s)).toBe(s)
    },
  )

  it.each(['example.com', 'A <b>', 'a@b.c\r\nBcc: x@y.z', 'a b@c.d'])(
    'parseMailbox rejects %j',
    (s) => {
      expect(() => parseMailbox(s)).toThrow()
    },
  )
})

describe('loadConfig defaults (SPEC §2)', () => {
  const cfg = load()

  it.each<[string, (c: Config) => unknown, unknown]>([
    ['env', (c) => c.env, 'development'],
    ['PORT', (c) => c.http.port, 3000],
    ['HOST', (c) => c.http.host, '127.0.0.1'],
    ['TRUST_PROXY', (c) => c.http.trustProxy, false],
    ['CORS_ORIGINS', (c) => c.http.corsOrigins, []],
    ['PUBLIC_URL', (c) => c.http.publicUrl, 'http://localhost:3000'],
    ['DATABASE_URL', (c) => c.databaseUrl, 'sqlite:./data/gatehouse.db'],
    ['REDIS_URL', (c) => c.redis.url, undefined],
    ['REDIS_PREFIX', (c) => c.redis.prefix, 'gatehouse:'],
    ['GATEHOUSE_OLD_SECRET_KEYS', (c) => c.secrets.oldKeys, []],
    ['APP_NAME', (c) => c.appName, 'Gatehouse'],
    ['issuer', (c) => c.tokens.issuer, 'http://localhost:3000'],
    ['JWT_AUDIENCE', (c) => c.tokens.audience, 'gatehouse'],
    ['ACCESS_TOKEN_TTL', (c) => c.tokens.accessTtlSec, 600],
    ['REFRESH_TOKEN_TTL', (c) => c.tokens.refreshTtlSec, 30 * 86_400],
    ['REFRESH_REUSE_GRACE', (c) => c.tokens.refreshReuseGraceSec, 10],
    ['SESSION_MAX_AGE', (c) => c.tokens.sessionMaxAgeSec, 90 * 86_400],
    ['SMTP_URL', (c) => c.mail.smtpUrl, undefined],
    ['EMAIL_FROM', (c) => c.mail.from, 'Gatehouse <no-reply@localhost>'],
    ['SMS_PROVIDER', (c) => c.sms, { provider: 'log' }],
    ['LOGIN_MAX_FAILURES', (c) => c.limits.loginMaxFailures, 5],
    ['LOGIN_FAILURE_WINDOW', (c) => c.limits.loginFailureWindowSec, 900],
    ['LOCKOUT_THRESHOLD', (c) => c.limits.lockoutThreshold, 10],
    ['LOCKOUT_DURATION', (c) => c.limits.lockoutDurationSec, 900],
    ['IP_LOGIN_MAX_FAILURES', (c) => c.limits.ipLoginMaxFailures, 100],
    ['IP_REGISTER_PER_HOUR', (c) => c.limits.ipRegisterPerHour, 20],
    ['PASSWORD_MIN_LENGTH', (c) => c.passwords.minLength, 12],
    ['REQUIRE_MFA_FOR_ROLES', (c) => c.requireMfaForRoles, ['admin']],
    ['WEBAUTHN_RP_ID', (c) => c.webauthn.rpId, 'localhost'],
    ['WEBAUTHN_ORIGINS', (c) => c.webauthn.origins, ['http://localhost:3000']],
  ])('%s', (_, pick, expected) => {
    expect(pick(cfg)).toEqual(expected)
  })

  it('has a table entry for every variable the loader reads, each with a rule sentence', () => {
    for (const [name, v] of Object.entries(variables)) {
      expect(v.rule, name).toMatch(/^(must|is) /)
    }
  })

  it('treats an empty value as unset, except for lists where it means none', () => {
    const c = load({ PORT: '', PUBLIC_URL: ' ', REQUIRE_MFA_FOR_ROLES: '', CORS_ORIGINS: '' })
    expect(c.http.port).toBe(3000)
    expect(c.http.publicUrl).toBe('http://localhost:3000')
    expect(c.requireMfaForRoles).toEqual([])
    expect(c.http.corsOrigins).toEqual([])
  })
})

describe('loadConfig values', () => {
  it.each<[Record<string, string>, (c: Config) => unknown, unknown]>([
    [{ NODE_ENV: 'production' }, (c) => c.env, 'production'],
    [{ NODE_ENV: 'test' }, (c) => c.env, 'test'],
    [{ NODE_ENV: 'staging' }, (c) => c.env, 'development'],
    [{ NODE_ENV: 'Production' }, (c) => c.env, 'production'],
    [{ NODE_ENV: 'PRODUCTION' }, (c) => c.env, 'production'],
    [{ METRICS_TOKEN: 'a'.repeat(32) }, (c) => c.http.metricsToken, 'a'.repeat(32)],
    [{}, (c) => c.http.metricsToken, undefined],
    [{ PORT: '8080' }, (c) => c.http.port, 8080],
    [
      { PUBLIC_URL: 'https://auth.example.com/' },
      (c) => c.tokens.issuer,
      'https://auth.example.com',
    ],
    [{ PUBLIC_URL: 'https://auth.example.com' }, (c) => c.webauthn.rpId, 'auth.example.com'],
    [
      { PUBLIC_URL: 'HTTPS://Auth.Example.com:443/' },
      (c) => [c.http.publicUrl, c.webauthn.origins],
      ['https://auth.example.com', ['https://auth.example.com']],
    ],
    [
      { PUBLIC_URL: 'https://auth.example.com', APP_NAME: 'Acme, Inc.' },
      (c) => c.mail.from,
      '"Acme, Inc." <no-reply@auth.example.com>',
    ],
    [{ EMAIL_FROM: 'Acme <id@acme.test>' }, (c) => c.mail.from, 'Acme <id@acme.test>'],
    [{ ACCESS_TOKEN_TTL: '1' }, (c) => c.tokens.accessTtlSec, 1],
    [{ REFRESH_REUSE_GRACE: '0' }, (c) => c.tokens.refreshReuseGraceSec, 0],
    [{ SESSION_MAX_AGE: '12h' }, (c) => c.tokens.sessionMaxAgeSec, 43_200],
    [{ TRUST_PROXY: '1' }, (c) => c.http.trustProxy, 1],
    [{ TRUST_PROXY: '10.0.0.0/8' }, (c) => c.http.trustProxy, ['10.0.0.0/8']],
    [
      { CORS_ORIGINS: 'https://a.example, https://b.example/' },
      (c) => c.http.corsOrigins,
      ['https://a.example', 'https://b.example'],
    ],
    [
      { REQUIRE_MFA_FOR_ROLES: 'admin, auditor' },
      (c) => c.requireMfaForRoles,
      ['admin', 'auditor'],
    ],
    [{ REDIS_URL: 'rediss://:pw@cache:6380/2' }, (c) => c.redis.url, 'rediss://:pw@cache:6380/2'],
    [{ PASSWORD_MIN_LENGTH: '8' }, (c) => c.passwords.minLength, 8],
    [{ PASSWORD_MIN_LENGTH: '128' }, (c) => c.passwords.minLength, 128],
    [{ GATEHOUSE_SECRET_KEY: keyHex }, (c) => c.secrets.key.equals(key), true],
    [
      { GATEHOUSE_OLD_SECRET_KEYS: `${otherKey.toString('hex')}, ${keyB64}` },
      (c) => c.secrets.oldKeys.map((k) => k.toString('hex')),
      [otherKey.toString('hex'), keyHex],
    ],
    [
      {
        PUBLIC_URL: 'https://login.example.com',
        WEBAUTHN_RP_ID: 'Example.com',
        WEBAUTHN_ORIGINS: 'https://login.example.com,https://example.com',
      },
      (c) => c.webauthn,
      { rpId: 'example.com', origins: ['https://login.example.com', 'https://example.com'] },
    ],
    [
      { SMS_PROVIDER: 'webhook', SMS_WEBHOOK_URL: 'http://sms.test/send' },
      (c) => c.sms,
      {
        provider: 'webhook',
        webhookUrl: 'http://sms.test/send',
      },
    ],
    [
      {
        SMS_PROVIDER: 'twilio',
        TWILIO_ACCOUNT_SID: 'AC1',
        TWILIO_AUTH_TOKEN: 't',
        TWILIO_FROM: '+15550100',
      },
      (c) => c.sms,
      {
        provider: 'twilio',
        accountSid: 'AC1',
        authToken: 't',
        from: '+15550100',
        apiUrl: 'https://api.twilio.com',
      },
    ],
  ])('%j', (env, pick, expected) => {
    expect(pick(load(env))).toEqual(expected)
  })
})

describe('loadConfig rules: the first failure is one line naming the variable', () => {
  it.each<[Record<string, string>, string]>([
    [{ PORT: '0' }, 'PORT: must be a port number from 1 to 65535 (got "0")'],
    [{ PORT: '70000' }, 'PORT: must be a port number from 1 to 65535 (got "70000")'],
    [{ PORT: 'http' }, 'PORT: must be a port number from 1 to 65535 (got "http")'],
    [{ HOST: 'a b' }, 'HOST: must be a host name or IP address to listen on (got "a b")'],
    [
      { ACCESS_TOKEN_TTL: 'ten' },
      'ACCESS_TOKEN_TTL: must be a duration such as 600s, 10m, 1h or 30d, at least 1s (got "ten")',
    ],
    [
      { ACCESS_TOKEN_TTL: '0s' },
      'ACCESS_TOKEN_TTL: must be a duration such as 600s, 10m, 1h or 30d, at least 1s (got "0s")',
    ],
    [
      { REFRESH_TOKEN_TTL: '0' },
      'REFRESH_TOKEN_TTL: must be a duration such as 600s, 10m, 1h or 30d, at least 1s (got "0")',
    ],
    [
      { REFRESH_REUSE_GRACE: '-1s' },
      'REFRESH_REUSE_GRACE: must be a duration such as 600s, 10m, 1h or 30d (got "-1s")',
    ],
    [
      { SESSION_MAX_AGE: 'a year' },
      'SESSION_MAX_AGE: must be a duration such as 600s, 10m, 1h or 30d, at least 1s (got "a year")',
    ],
    [{ LOGIN_FAILURE_WINDOW: '0' }, 'LOGIN_FAILURE_WINDOW: must be a duration'],
    [{ LOCKOUT_DURATION: 'forever' }, 'LOCKOUT_DURATION: must be a duration'],
    [{ PUBLIC_URL: 'localhost:3000' }, 'PUBLIC_URL: must be an http(s) origin'],
    [{ PUBLIC_URL: 'ftp://example.com' }, 'PUBLIC_URL: must be an http(s) origin'],
    // Served from the root: a path would name endpoints that answer nothing.
    [{ PUBLIC_URL: 'https://example.com/auth/' }, 'PUBLIC_URL: must be an http(s) origin'],
    [
      { DATABASE_URL: 'mongodb://u:hunter2@db/x' },
      'DATABASE_URL: must start with sqlite:, postgres://, postgresql:// or mysql:// (got "mongodb://u:***@db/x")',
    ],
    [{ REDIS_URL: 'http://cache:6379' }, 'REDIS_URL: must be a redis:// or rediss:// URL'],
    [{ REDIS_URL: 'redis://cache:6379/x' }, 'REDIS_URL: must be a redis:// or rediss:// URL'],
    [{ SMTP_URL: 'mail.example.com' }, 'SMTP_URL: must be an smtp:// or smtps:// URL'],
    [{ EMAIL_FROM: 'nobody' }, 'EMAIL_FROM: must be an email address'],
    [{ APP_NAME: 'Acme: Auth' }, 'APP_NAME: must be 1 to 64 characters without colons'],
    [{ JWT_AUDIENCE: 'two words' }, 'JWT_AUDIENCE: must be text without spaces'],
    [{ CORS_ORIGINS: '*' }, 'CORS_ORIGINS: must be a comma-separated list of origins'],
    [{ TRUST_PROXY: 'yes' }, 'TRUST_PROXY: must be false, true, a hop count, or comma-separated'],
    [{ SMS_PROVIDER: 'pigeon' }, 'SMS_PROVIDER: must be log, webhook or twilio (got "pigeon")'],
    [{ SMS_PROVIDER: 'webhook' }, 'SMS_WEBHOOK_URL: is required when SMS_PROVIDER=webhook'],
    [
      { SMS_PROVIDER: 'webhook', SMS_WEBHOOK_URL: 'sms.test' },
      'SMS_WEBHOOK_URL: must be an http(s) URL',
    ],
    [
      { SMS_PROVIDER: 'twilio', TWILIO_AUTH_TOKEN: 't', TWILIO_FROM: '+1' },
      'TWILIO_ACCOUNT_SID: is required when SMS_PROVIDER=twilio',
    ],
    [
      { SMS_PROVIDER: 'twilio', TWILIO_ACCOUNT_SID: 'AC1', TWILIO_FROM: '+1' },
      'TWILIO_AUTH_TOKEN: is required when SMS_PROVIDER=twilio',
    ],
    [
      { SMS_PROVIDER: 'twilio', TWILIO_ACCOUNT_SID: 'AC1', TWILIO_AUTH_TOKEN: 't' },
      'TWILIO_FROM: is required when SMS_PROVIDER=twilio',
    ],
    [{ TWILIO_API_URL: 'api.twilio.com' }, 'TWILIO_API_URL: must be an http(s) URL'],
    // A webhook's secret (user info, a query token) is never echoed.
    [
      { SMS_PROVIDER: 'webhook', SMS_WEBHOOK_URL: 'http://u:HookPW@hooks.example.com/sms' },
      'SMS_WEBHOOK_URL: must be an http(s) URL without user, password or query (required when SMS_PROVIDER=webhook) (got "http://***@hooks.example.com/sms")',
    ],
    [
      { SMS_PROVIDER: 'webhook', SMS_WEBHOOK_URL: 'https://hooks.example.com/sms?token=QueryTok' },
      'SMS_WEBHOOK_URL: must be an http(s) URL without user, password or query (required when SMS_PROVIDER=webhook) (got "https://hooks.example.com/sms?***")',
    ],
    [
      { TWILIO_API_URL: 'ftp://u:TwPW@x' },
      'TWILIO_API_URL: must be an http(s) URL without user, password or query (got "ftp://***@x")',
    ],
    [
      { LOG_LEVEL: 'loud' },
      'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent (got "loud")',
    ],
    [
      { REQUIRE_MFA_FOR_ROLES: 'Admin' },
      'REQUIRE_MFA_FOR_ROLES: must be a comma-separated list of role names',
    ],
    [{ REQUIRE_MFA_FOR_ROLES: 'admin,no such' }, 'REQUIRE_MFA_FOR_ROLES: must be'],
    [
      { LOGIN_MAX_FAILURES: '0' },
      'LOGIN_MAX_FAILURES: must be a whole number of at least 1 (got "0")',
    ],
    [{ LOCKOUT_THRESHOLD: 'x' }, 'LOCKOUT_THRESHOLD: must be a whole number of at least 1'],
    [
      { IP_LOGIN_MAX_FAILURES: '-5' },
      'IP_LOGIN_MAX_FAILURES: must be a whole number of at least 1',
    ],
    [{ IP_REGISTER_PER_HOUR: '2.5' }, 'IP_REGISTER_PER_HOUR: must be a whole number of at least 1'],
    [
      { PASSWORD_MIN_LENGTH: '7' },
      'PASSWORD_MIN_LENGTH: must be a whole number from 8 to 128 (got "7")',
    ],
    [{ PASSWORD_MIN_LENGTH: '129' }, 'PASSWORD_MIN_LENGTH: must be a whole number from 8 to 128'],
    [{ WEBAUTHN_RP_ID: 'https://example.com' }, 'WEBAUTHN_RP_ID: must be a domain name'],
    [
      { PUBLIC_URL: 'https://auth.example.com', WEBAUTHN_ORIGINS: 'https://evil.test' },
      'WEBAUTHN_ORIGINS: every passkey origin must be on auth.example.com or a subdomain of it (got "https://evil.test")',
    ],
    [
      { PUBLIC_URL: 'https://auth.example.com', WEBAUTHN_RP_ID: 'other.example' },
      'WEBAUTHN_RP_ID: every passkey origin must be on other.example',
    ],
    [
      { GATEHOUSE_SECRET_KEY: Buffer.alloc(16).toString('base64') },
      'GATEHOUSE_SECRET_KEY: must be 32 bytes written as base64 or hex (e.g. from "openssl rand -base64 32") (got 16 bytes)',
    ],
    [{ GATEHOUSE_SECRET_KEY: 'not a key!' }, 'GATEHOUSE_SECRET_KEY: must be 32 bytes'],
    [
      { GATEHOUSE_OLD_SECRET_KEYS: `${keyB64},short` },
      'GATEHOUSE_OLD_SECRET_KEYS: must be a comma-separated list of keys',
    ],
    // Table order decides which of two failures is reported.
    [{ PORT: '0', ACCESS_TOKEN_TTL: 'ten' }, 'PORT: '],
  ])('%j', (env, message) => {
    const err = failure(env)
    expect(err.message.startsWith(message)).toBe(true)
    expect(err.message).not.toContain('\n')
    expect(err.variable).toBe(message.split(':')[0])
  })

  it('keeps the message on one line and never echoes a secret', () => {
    expect(failure({ PUBLIC_URL: 'http://a\nb' }).message).not.toContain('\n')
    const secret = 'x'.repeat(40) + '!'
    expect(failure({ GATEHOUSE_SECRET_KEY: secret }).message).not.toContain(secret)
    expect(failure({ TWILIO_AUTH_TOKEN: 'has space' }).message).not.toContain('has space')
    expect(failure({ REDIS_URL: 'redis://:hunter2@cache/x' }).message).not.toContain('hunter2')
    const shortToken = 'too-short-to-guard-metrics'
    const refused = failure({ METRICS_TOKEN: shortToken }).message
    expect(refused).toMatch(/^METRICS_TOKEN: must be at least 32 characters/)
    expect(refused).not.toContain(shortToken)
  })
})

describe('the secret key', () => {
  const devKey = () => ({ key: otherKey, generated: true })

  it('is required in production, without consulting the development key file', () => {
    let called = false
    const err = (() => {
      try {
        loadConfig({ NODE_ENV: 'production' }, { devSecretKey: () => ((called = true), devKey()) })
      } catch (e) {
        return e
      }
    })()
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as Error).message).toMatch(
      /^GATEHOUSE_SECRET_KEY: is required when NODE_ENV=production/,
    )
    expect(called).toBe(false)
  })

  it('comes from GATEHOUSE_SECRET_KEY when set (generated: false)', () => {
    const c = loadConfig(
      { NODE_ENV: 'production', GATEHOUSE_SECRET_KEY: keyB64 },
      { devSecretKey: devKey },
    )
    expect(c.secrets.key.equals(key)).toBe(true)
    expect(c.secrets.generated).toBe(false)
  })

  it('comes from opts.devSecretKey outside production when unset', () => {
    const c = loadConfig({}, { devSecretKey: devKey })
    expect(c.secrets.key.equals(otherKey)).toBe(true)
    expect(c.secrets.generated).toBe(true)
  })

  it('is required outside production too when no devSecretKey is given', () => {
    expect(() => loadConfig({ NODE_ENV: 'test' })).toThrow(/^GATEHOUSE_SECRET_KEY: is required/)
  })

  it('rejects a development key of the wrong size', () => {
    expect(() =>
      loadConfig({}, { devSecretKey: () => ({ key: Buffer.alloc(8), generated: true }) }),
    ).toThrow(ConfigError)
  })
})

describe('the result', () => {
  it('is deeply frozen', () => {
    const c = load({ CORS_ORIGINS: 'https://a.example' })
    expect(Object.isFrozen(c)).toBe(true)
    expect(Object.isFrozen(c.http)).toBe(true)
    expect(Object.isFrozen(c.http.corsOrigins)).toBe(true)
    expect(Object.isFrozen(c.secrets.oldKeys)).toBe(true)
    expect(Object.isFrozen(c.webauthn.origins)).toBe(true)
    expect(() => {
      ;(c.http as { port: number }).port = 1
    }).toThrow(TypeError)
  })

  it('does not share the caller’s key buffer', () => {
    const mine = Buffer.from(key)
    const c = loadConfig({}, { devSecretKey: () => ({ key: mine, generated: false }) })
    mine.fill(0)
    expect(c.secrets.key.equals(key)).toBe(true)
  })
})

describe('loadOrCreateDevSecretKey', () => {
  const dirs: string[] = []
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-config-'))
    dirs.push(dir)
    return dir
  }
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
  })

  it('creates the directory and a 0600 base64 key file on first use, then reads it back', () => {
    const path = join(tempDir(), 'data', 'nested', 'secret.key')
    const first = loadOrCreateDevSecretKey(path)
    expect(first.generated).toBe(true)
    expect(first.key).toHaveLength(32)
    expect(Buffer.from(readFileSync(path, 'utf8').trim(), 'base64').equals(first.key)).toBe(true)
    if (process.platform !== 'win32') expect(statSync(path).mode & 0o777).toBe(0o600)

    const second = loadOrCreateDevSecretKey(path)
    expect(second.generated).toBe(false)
    expect(second.key.equals(first.key)).toBe(true)
  })

  it('reads an existing key', () => {
    const path = join(tempDir(), 'secret.key')
    writeFileSync(path, `${keyB64}\n`)
    expect(loadOrCreateDevSecretKey(path)).toEqual({ key, generated: false, path })
    expect(loadDevSecretKey(path)).toEqual({ key, generated: false, path })
  })

  it('is never created by loadDevSecretKey (CLI commands other than migrate)', () => {
    const path = join(tempDir(), 'data', 'secret.key')
    expect(() => loadDevSecretKey(path)).toThrow(
      `GATEHOUSE_SECRET_KEY: is not set and there is no development key at ${path}; `,
    )
    expect(existsSync(path)).toBe(false)
  })

  it('refuses a key file that does not hold 32 bytes, without printing it', () => {
    const path = join(tempDir(), 'secret.key')
    writeFileSync(path, Buffer.alloc(20).toString('base64'))
    expect(() => loadOrCreateDevSecretKey(path)).toThrow(
      /^GATEHOUSE_SECRET_KEY: .*\(got 20 bytes\)$/,
    )
  })

  it('plugs into loadConfig', () => {
    const path = join(tempDir(), 'secret.key')
    const c = loadConfig({}, { devSecretKey: () => loadOrCreateDevSecretKey(path) })
    expect(c.secrets.generated).toBe(true)
    expect(
      loadConfig({}, { devSecretKey: () => loadOrCreateDevSecretKey(path) }).secrets.key.equals(
        c.secrets.key,
      ),
    ).toBe(true)
  })
})
