import { Secret, TOTP } from 'otpauth'
import type { Random } from '../ports.js'

/**
 * RFC 6238 as SPEC §4.4 fixes it, for account second factors and the TOTP service alike:
 * SHA-1, 6 digits and 30-second steps, as every authenticator app expects. A secret is its
 * bytes, or the base32 text apps show and accounts store.
 */
export const TOTP_PERIOD_SEC = 30
export const TOTP_DIGITS = 6
/** 160 random bits (RFC 4226 §4 recommends the HMAC-SHA-1 output size). */
export const TOTP_SECRET_BYTES = 20
const ALGORITHM = 'SHA1'
// RFC 6238 §5.2: accept one step either side for clock drift and typing time.
const WINDOW = 1

type TotpSecret = string | Buffer

function secretOf(secret: TotpSecret): Secret {
  return typeof secret === 'string'
    ? Secret.fromBase32(secret)
    : new Secret({ buffer: Uint8Array.from(secret).buffer })
}

/** A new secret, as base32 text. */
export function newTotpSecret(random: Random): string {
  return base32Of(random.bytes(TOTP_SECRET_BYTES))
}

/** Secret bytes as the base32 text apps show. */
export function base32Of(secret: Buffer): string {
  return secretOf(secret).base32
}

/**
 * Decodes an RFC 4648 base32 secret as authenticator apps show it (any case, spaces and
 * padding allowed); undefined when it is not base32.
 */
export function fromBase32(text: string): Buffer | undefined {
  const cleaned = text.replace(/[\s-]/g, '').replace(/=+$/, '').toUpperCase()
  if (!/^[A-Z2-7]+$/.test(cleaned)) return undefined
  try {
    return Buffer.from(Secret.fromBase32(cleaned).bytes)
  } catch {
    return undefined
  }
}

/** `otpauth://totp/<issuer>:<account>?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30` (SPEC §4.4). */
export function otpauthUrl(opts: { issuer: string; account: string; secret: TotpSecret }): string {
  const issuer = encodeURIComponent(opts.issuer)
  const label = `${issuer}:${encodeURIComponent(opts.account)}`
  const secret = typeof opts.secret === 'string' ? opts.secret : base32Of(opts.secret)
  return (
    `otpauth://totp/${label}?secret=${secret}&issuer=${issuer}` +
    `&algorithm=${ALGORITHM}&digits=${TOTP_DIGITS}&period=${TOTP_PERIOD_SEC}`
  )
}

export function totpStepAt(timestampMs: number): number {
  return Math.floor(timestampMs / 1000 / TOTP_PERIOD_SEC)
}

/**
 * The code for a time: for tests and the RFC's vectors (`digits` 8), never for logs.
 */
export function totpCodeAt(secret: TotpSecret, timestampMs: number, digits = TOTP_DIGITS): string {
  return TOTP.generate({
    secret: secretOf(secret),
    algorithm: ALGORITHM,
    digits,
    period: TOTP_PERIOD_SEC,
    timestamp: timestampMs,
  })
}

/**
 * The time step a code belongs to, if it matches the step at `timestampMs` or one either
 * side; null otherwise. The caller stores the step and refuses steps not later than the last
 * accepted one, so a code is never accepted twice.
 */
export function matchTotpStep(
  secret: TotpSecret,
  code: string,
  timestampMs: number,
): number | null {
  if (!/^[0-9]{6}$/.test(code)) return null
  const delta = TOTP.validate({
    token: code,
    secret: secretOf(secret),
    algorithm: ALGORITHM,
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SEC,
    timestamp: timestampMs,
    window: WINDOW,
  })
  return delta === null ? null : totpStepAt(timestampMs) + delta
}
