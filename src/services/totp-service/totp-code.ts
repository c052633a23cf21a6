import { Secret, TOTP } from 'otpauth'

/** RFC 6238 as SPEC §4.4 fixes it: SHA-1, 6 digits, 30-second steps. */
export const TOTP_PERIOD_SEC = 30
export const TOTP_SECRET_BYTES = 20 // 160 bits, RFC 4226 §4's recommendation

function totp(secret: Buffer): TOTP {
  return new TOTP({
    secret: new Secret({ buffer: Uint8Array.from(secret).buffer }),
    algorithm: 'SHA1',
    digits: 6,
    period: TOTP_PERIOD_SEC,
  })
}

/**
 * The time step a code belongs to, or null when it matches none. RFC 6238 §5.2: accept the
 * current step and one either side, for clock drift and typing time. The caller refuses steps
 * not later than the last accepted one (replay).
 */
export function matchingStep(secret: Buffer, code: string, nowMs: number): number | null {
  if (!/^[0-9]{6}$/.test(code)) return null
  const t = totp(secret)
  const delta = t.validate({ token: code, timestamp: nowMs, window: 1 })
  return delta === null ? null : t.counter({ timestamp: nowMs }) + delta
}

/** The current code: for tests and the CLI's "type this to check" hints, never for logs. */
export function codeAt(secret: Buffer, nowMs: number): string {
  return totp(secret).generate({ timestamp: nowMs })
}

export function base32(secret: Buffer): string {
  return new Secret({ buffer: Uint8Array.from(secret).buffer }).base32
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

/** The key URI authenticator apps scan: label `<issuer>:<account>`, as SPEC §4.4 spells it. */
export function provisioningUri(secret: Buffer, issuer: string, account: string): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`
  return (
    `otpauth://totp/${label}?secret=${base32(secret)}&issuer=${encodeURIComponent(issuer)}` +
    `&algorithm=SHA1&digits=6&period=${TOTP_PERIOD_SEC}`
  )
}
