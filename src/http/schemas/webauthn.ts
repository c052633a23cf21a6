import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server'
import { Type, type Static } from 'typebox'
import { knownTransports } from '../../services/passkeys/config.js'
import type { Passkey } from '../../services/passkeys/credentials.js'
import { refTo } from './common.js'

/** Binary values of the WebAuthn JSON encoding: base64url, bounded. */
const Base64Url = (maxLength: number) =>
  Type.String({ minLength: 1, maxLength, pattern: '^[A-Za-z0-9_-]+={0,2}$' })

// WebAuthn §5.1: a credential id is at most 1023 bytes.
const CredentialId = Base64Url(1400)

const Attachment = Type.Optional(
  Type.Union([Type.Literal('platform'), Type.Literal('cross-platform')]),
)
const ClientExtensionResults = Type.Optional(
  Type.Object({}, { description: "the browser's getClientExtensionResults(); not used" }),
)

/** A `RegistrationResponseJSON`, as `@simplewebauthn/browser`'s `startRegistration()` gives it. */
export const RegistrationResponseBody = Type.Object(
  {
    id: CredentialId,
    rawId: CredentialId,
    type: Type.Literal('public-key'),
    response: Type.Object({
      clientDataJSON: Base64Url(8192),
      attestationObject: Base64Url(32768),
      transports: Type.Optional(Type.Array(Type.String({ maxLength: 32 }), { maxItems: 10 })),
    }),
    authenticatorAttachment: Attachment,
    clientExtensionResults: ClientExtensionResults,
  },
  { description: 'RegistrationResponseJSON (WebAuthn Level 3 §5.1)' },
)

/** An `AuthenticationResponseJSON`, as `startAuthentication()` gives it. */
export const AuthenticationResponseBody = Type.Object(
  {
    id: CredentialId,
    rawId: CredentialId,
    type: Type.Literal('public-key'),
    response: Type.Object({
      clientDataJSON: Base64Url(8192),
      authenticatorData: Base64Url(8192),
      signature: Base64Url(2048),
      userHandle: Type.Optional(Base64Url(128)),
    }),
    authenticatorAttachment: Attachment,
    clientExtensionResults: ClientExtensionResults,
  },
  { description: 'AuthenticationResponseJSON (WebAuthn Level 3 §5.1)' },
)

/** The library's type, built from the checked fields only (unknown members stay behind). */
export function registrationResponse(
  body: Static<typeof RegistrationResponseBody>,
): RegistrationResponseJSON {
  return {
    id: body.id,
    rawId: body.rawId,
    type: body.type,
    response: {
      clientDataJSON: body.response.clientDataJSON,
      attestationObject: body.response.attestationObject,
      transports: knownTransports(body.response.transports),
    },
    authenticatorAttachment: body.authenticatorAttachment,
    clientExtensionResults: {},
  }
}

export function authenticationResponse(
  body: Static<typeof AuthenticationResponseBody>,
): AuthenticationResponseJSON {
  return {
    id: body.id,
    rawId: body.rawId,
    type: body.type,
    response: {
      clientDataJSON: body.response.clientDataJSON,
      authenticatorData: body.response.authenticatorData,
      signature: body.response.signature,
      userHandle: body.response.userHandle,
    },
    authenticatorAttachment: body.authenticatorAttachment,
    clientExtensionResults: {},
  }
}

export const CredentialDescriptorSchema = Type.Object(
  {
    id: Type.String(),
    type: Type.Literal('public-key'),
    transports: Type.Optional(Type.Array(Type.String())),
  },
  {
    $id: 'PublicKeyCredentialDescriptor',
    description: 'PublicKeyCredentialDescriptorJSON (WebAuthn Level 3)',
  },
)
const CredentialDescriptor = refTo(CredentialDescriptorSchema)

/** `PublicKeyCredentialCreationOptionsJSON`, for `startRegistration({ optionsJSON })`. */
export const CreationOptionsSchema = Type.Object(
  {
    challenge: Type.String(),
    rp: Type.Object({ name: Type.String(), id: Type.Optional(Type.String()) }),
    user: Type.Object({ id: Type.String(), name: Type.String(), displayName: Type.String() }),
    pubKeyCredParams: Type.Array(
      Type.Object({ alg: Type.Integer(), type: Type.Literal('public-key') }),
    ),
    timeout: Type.Optional(Type.Integer()),
    excludeCredentials: Type.Optional(Type.Array(CredentialDescriptor)),
    authenticatorSelection: Type.Optional(
      Type.Object({
        authenticatorAttachment: Type.Optional(Type.String()),
        requireResidentKey: Type.Optional(Type.Boolean()),
        residentKey: Type.Optional(Type.String()),
        userVerification: Type.Optional(Type.String()),
      }),
    ),
    hints: Type.Optional(Type.Array(Type.String())),
    attestation: Type.Optional(Type.String()),
    extensions: Type.Optional(Type.Object({ credProps: Type.Optional(Type.Boolean()) })),
  },
  { description: 'PublicKeyCredentialCreationOptionsJSON (WebAuthn Level 3 §5.4)' },
)

/** `PublicKeyCredentialRequestOptionsJSON`, for `startAuthentication({ optionsJSON })`. */
export const RequestOptionsSchema = Type.Object(
  {
    challenge: Type.String(),
    rpId: Type.Optional(Type.String()),
    allowCredentials: Type.Optional(Type.Array(CredentialDescriptor)),
    timeout: Type.Optional(Type.Integer()),
    userVerification: Type.Optional(Type.String()),
    hints: Type.Optional(Type.Array(Type.String())),
  },
  { description: 'PublicKeyCredentialRequestOptionsJSON (WebAuthn Level 3 §5.5)' },
)

export const PasskeySchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    created_at: Type.String({ format: 'date-time' }),
    last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { $id: 'Passkey' },
)
export const PasskeyRef = refTo(PasskeySchema)

export function passkeyJson(p: Passkey): Static<typeof PasskeySchema> {
  return {
    id: p.id,
    name: p.name,
    created_at: p.createdAt.toISOString(),
    last_used_at: p.lastUsedAt?.toISOString() ?? null,
  }
}

/** A passkey's name as typed (trimmed and checked by the service). */
export const PasskeyName = Type.String({ minLength: 1, maxLength: 256 })
