import {
  browserSupportsWebAuthn,
  browserSupportsWebAuthnAutofill,
  startAuthentication,
  startRegistration,
  WebAuthnAbortService,
  WebAuthnError,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/browser'
import { ApiError } from './client'

/**
 * The browser half of a passkey ceremony (SPEC §4.9), through @simplewebauthn/browser. Its
 * failures become ApiErrors with status 0, like a network failure, so forms show them the way
 * they show the server's problems.
 */

export type { AuthenticationResponseJSON, PublicKeyCredentialRequestOptionsJSON }

/**
 * A passkey is bound to a domain (its RP ID); on an IP address such as http://127.0.0.1 the
 * browser refuses every ceremony, so the UI does not offer them there.
 */
export function isIpAddressHost(hostname: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(hostname) || hostname.startsWith('[')
}

export const passkeysOnThisHost = (): boolean => !isIpAddressHost(window.location.hostname)

export const passkeysSupported = (): boolean => browserSupportsWebAuthn() && passkeysOnThisHost()
export const passkeyAutofillSupported = async (): Promise<boolean> =>
  passkeysOnThisHost() && (await browserSupportsWebAuthnAutofill())

/** Ends the ceremony in progress, if any (leaving the page, or a button taking over). */
export function cancelPasskeyPrompt(): void {
  WebAuthnAbortService.cancelCeremony()
}

function nameOf(err: unknown): string {
  if (err instanceof WebAuthnError) {
    if (err.code === 'ERROR_CEREMONY_ABORTED') return 'AbortError'
    if (err.code === 'ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED') return 'InvalidStateError'
    const cause: unknown = err.cause
    return cause instanceof Error ? cause.name : err.name
  }
  return err instanceof Error ? err.name : ''
}

/** The outcome of a ceremony; undefined when we ended it ourselves (another one took over). */
async function ceremony<T>(run: () => Promise<T>): Promise<T | undefined> {
  if (!passkeysSupported()) throw new ApiError({ status: 0, code: 'passkey_unsupported' })
  try {
    return await run()
  } catch (err) {
    switch (nameOf(err)) {
      case 'AbortError':
        return undefined
      // The person closed the prompt, or let it time out: their choice, not a fault.
      case 'NotAllowedError':
        throw new ApiError({ status: 0, code: 'passkey_cancelled' })
      case 'InvalidStateError':
        throw new ApiError({ status: 0, code: 'passkey_exists' })
      default:
        throw new ApiError({ status: 0, code: 'passkey_failed' })
    }
  }
}

export function createPasskey(
  optionsJSON: PublicKeyCredentialCreationOptionsJSON,
): Promise<RegistrationResponseJSON | undefined> {
  return ceremony(() => startRegistration({ optionsJSON }))
}

/** `autofill`: conditional mediation, answered from the username field's suggestions. */
export function getPasskey(
  optionsJSON: PublicKeyCredentialRequestOptionsJSON,
  autofill = false,
): Promise<AuthenticationResponseJSON | undefined> {
  return ceremony(() => startAuthentication({ optionsJSON, useBrowserAutofill: autofill }))
}

/**
 * Adding or removing a passkey from a session that proved no second factor: the generic
 * mfa_required text speaks of codes, which is wrong for someone whose factor is a passkey.
 */
export async function changingPasskeys<T>(send: () => Promise<T>): Promise<T> {
  try {
    return await send()
  } catch (err) {
    if (err instanceof ApiError && err.code === 'mfa_required')
      throw new ApiError({ status: err.status, code: 'passkey_mfa_required' })
    throw err
  }
}

/**
 * The server's answer to a passkey: `invalid_code` there means the passkey or its challenge was
 * refused, which reads wrong as "that code is not right".
 */
export async function answerWithPasskey<T>(send: () => Promise<T>): Promise<T> {
  try {
    return await send()
  } catch (err) {
    if (err instanceof ApiError && err.code === 'invalid_code')
      throw new ApiError({ status: err.status, code: 'passkey_refused' })
    throw err
  }
}
