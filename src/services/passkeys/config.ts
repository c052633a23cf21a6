import type { AuthenticatorTransportFuture } from '@simplewebauthn/server'

/** What passkeys need from the configuration (SPEC §2: WEBAUTHN_RP_ID, WEBAUTHN_ORIGINS). */
export interface PasskeyConfig {
  /** The relying-party id: the domain passkeys are bound to. */
  rpId: string
  /** The name an authenticator shows for us (APP_NAME). */
  rpName: string
  /** Every origin a ceremony may come from. */
  origins: readonly string[]
}

/** COSE algorithms we accept, in order of preference: EdDSA, ES256, RS256. */
export const PASSKEY_ALGORITHMS = [-8, -7, -257]

const TRANSPORTS: readonly AuthenticatorTransportFuture[] = [
  'ble',
  'cable',
  'hybrid',
  'internal',
  'nfc',
  'smart-card',
  'usb',
]

/** The transports a browser reported, known names only (they are stored and sent back). */
export function knownTransports(
  values: readonly string[] | undefined,
): AuthenticatorTransportFuture[] {
  return [...new Set(values ?? [])].filter((t): t is AuthenticatorTransportFuture =>
    (TRANSPORTS as readonly string[]).includes(t),
  )
}

export function parseTransports(json: string): AuthenticatorTransportFuture[] {
  try {
    const value: unknown = JSON.parse(json)
    return Array.isArray(value) ? knownTransports(value.filter((v) => typeof v === 'string')) : []
  } catch {
    return []
  }
}

/**
 * The WebAuthn user handle: our opaque user id (random, no personal data, as WebAuthn
 * §14.6.1 asks). A discoverable credential returns it, which names its owner.
 */
export function userHandleOf(userId: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(userId, 'utf8'))
}
