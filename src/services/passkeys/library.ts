import type * as SimpleWebAuthnServer from '@simplewebauthn/server'

export type WebAuthnLibrary = typeof SimpleWebAuthnServer

let loading: Promise<WebAuthnLibrary> | undefined

/**
 * @simplewebauthn/server, loaded on the first passkey operation: with its ASN.1 and X.509
 * dependencies it adds about 7 MiB to every process, and most logins never touch a passkey.
 */
export function webauthnLibrary(): Promise<WebAuthnLibrary> {
  loading ??= import('@simplewebauthn/server')
  return loading
}

/**
 * A client's clientDataJSON as an object, as the library's `decodeClientDataJSON` reads it
 * (base64url, then JSON); here so that peeking at the challenge or origin of a response
 * does not load the library. Throws on a malformed value.
 */
export function decodeClientData(clientDataJSON: string): {
  challenge?: unknown
  origin?: unknown
} {
  const parsed: unknown = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8'))
  if (typeof parsed !== 'object' || parsed === null) throw new TypeError('not an object')
  return parsed
}
