import { Secret, TOTP } from 'otpauth'
import type { Random } from '../ports.js'

/** SPEC §4.4: RFC 6238 with SHA-1, 6 digits and 30-second steps, as every authenticator app expects. */
export const TOTP_PERIOD_SEC = 30
export const TOTP_DIGITS = 6
const ALGORITHM = 'SHA1'
// RFC 6238 §5.2: accept one step either side for clock drift and typing time.
const WINDOW = 1

/** 160 random bits (RFC 4226 §4 recommends the HMAC-SHA-1 output size), base32 as apps take it. */
export function newTotpSecret(random: Random): string {
  return Secret.fromHex(random.bytes(20).toString('hex')).base32
}

/** Raw secret bytes (an imported authenticator entry) as the base32 text apps and we use. */
export function base32Of(secret: Buffer): string {
  return Secret.fromHex(secret.toString('hex')).base32
}

/** `otpauth://totp/<issuer>:<account>?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30` (SPEC §4.4). */
export function otpauthUrl(opts: { issuer: string; account: string; secret: string }): string {
  const issuer = encodeURIComponent(opts.issuer)
  const label = `${issuer}:${encodeURIComponent(opts.account)}`
  return (
    `otpauth://totp/${label}?secret=${opts.secret}&issuer=${issuer}` +
    `&algorithm=${ALGORITHM}&digits=${TOTP_DIGITS}&period=${TOTP_PERIOD_SEC}`
  )
}

export function totpStepAt(timestampMs: number): number {
  return Math.floor(timestampMs / 1000 / TOTP_PERIOD_SEC)
}

/** The code for a time; `digits` other than 6 only for the RFC's 8-digit test vectors. */
export function totpCodeAt(secret: string, timestampMs: number, digits = TOTP_DIGITS): string {
  return TOTP.generate({
    secret: Secret.fromBase32(secret),
    algorithm: ALGORITHM,
    digits,
    period: TOTP_PERIOD_SEC,
    timestamp: timestampMs,
  })
}

/**
 * The time step a code belongs to, if it matches the step at `timestampMs` or one either
 * side; null otherwise. The caller stores the step so the code is never accepted again.
 */
export function matchTotpStep(secret: string, code: string, timestampMs: number): number | null {
  if (!/^[0-9]{6}$/.test(code)) return null
  const delta = TOTP.validate({
    token: code,
    secret: Secret.fromBase32(secret),
    algorithm: ALGORITHM,
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SEC,
    timestamp: timestampMs,
    window: WINDOW,
  })
  return delta === null ? null : totpStepAt(timestampMs) + delta
}
