import type { NotifyKind } from '../services/notifications/messages.js'
import type { LogLevel } from './variables.js'

/** The validated, deep-frozen configuration (SPEC §2). Durations are in seconds. */
export interface Config {
  readonly env: 'development' | 'production' | 'test'
  readonly http: {
    readonly port: number
    readonly host: string
    /** false, true, a hop count, or a list of trusted proxy addresses/CIDRs (Fastify's trustProxy accepts all). */
    readonly trustProxy: boolean | number | readonly string[]
    readonly corsOrigins: readonly string[]
    readonly publicUrl: string // no trailing slash
    /** When set, `/metrics` answers only `Authorization: Bearer <this>` (a scraper's token). */
    readonly metricsToken: string | undefined
  }
  readonly databaseUrl: string
  readonly redis: { readonly url: string | undefined; readonly prefix: string }
  readonly secrets: {
    /** 32-byte current key. */
    readonly key: Buffer
    readonly oldKeys: readonly Buffer[]
    /** True when the key was generated into ./data/secret.key (dev only): serve.ts warns. */
    readonly generated: boolean
    /** Where the key came from, for the operator: `GATEHOUSE_SECRET_KEY` or the key file's path. */
    readonly source: string
  }
  readonly appName: string
  readonly logLevel: LogLevel
  readonly tokens: {
    readonly issuer: string // = publicUrl
    readonly audience: string
    readonly accessTtlSec: number
    readonly refreshTtlSec: number
    readonly refreshReuseGraceSec: number
    /** Absolute lifetime of a session from its login, refreshes included. */
    readonly sessionMaxAgeSec: number
  }
  readonly mail: { readonly smtpUrl: string | undefined; readonly from: string }
  readonly sms:
    | { readonly provider: 'log' }
    | { readonly provider: 'webhook'; readonly webhookUrl: string }
    | {
        readonly provider: 'twilio'
        readonly accountSid: string
        readonly authToken: string
        readonly from: string
        readonly apiUrl: string
      }
  readonly limits: {
    readonly loginMaxFailures: number
    readonly loginFailureWindowSec: number
    readonly lockoutThreshold: number
    readonly lockoutDurationSec: number
    readonly ipLoginMaxFailures: number
    readonly ipRegisterPerHour: number
  }
  readonly passwords: { readonly minLength: number }
  readonly requireMfaForRoles: readonly string[]
  readonly webauthn: { readonly rpId: string; readonly origins: readonly string[] }
  /** NOTIFY_EVENTS: the kinds of security notification to send (SPEC §4.13). */
  readonly notifyEvents: readonly NotifyKind[]
}
