import { Type, type Static, type TSchema } from 'typebox'
import { E164, EMAIL_MAX_LENGTH } from '../../services/accounts/contact-rules.js'
import type { UserProfile } from '../../services/accounts/user-profile.js'
import type { IssuedTokens } from '../../services/sessions/session-service.js'

export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String(),
  },
  { $id: 'Problem', description: 'RFC 9457 problem details' },
)

/**
 * A shared schema by reference: published once under the OpenAPI document's
 * components.schemas (and once in the web app's types generated from it) instead of inline
 * in every route and status; the handler still gets the schema's static type. app.ts adds
 * every schema of `componentSchemas` (schemas/components.ts), and fast-json-stringify resolves
 * the reference when it serializes. Response schemas only: the request validator (TypeBox's
 * compiler) is not given the added schemas.
 */
export function refTo<T extends TSchema>(schema: T) {
  const id = (schema as { $id?: unknown }).$id
  if (typeof id !== 'string') throw new Error('refTo: a shared schema needs an $id')
  return Type.Unsafe<Static<T>>(Type.Ref(id))
}

const ProblemRef = refTo(ProblemSchema)

/**
 * An error answer, documented with the media type problem.ts sends (not the application/json
 * a bare schema is listed under). Fastify picks a response's serializer by status and then by
 * the reply's media type, so the Problem schema still serializes these answers.
 */
const ProblemAnswer = {
  description: 'RFC 9457 problem details',
  content: { 'application/problem+json': { schema: ProblemRef } },
}

/**
 * The error answers a route may give, all problem+json. Any route may answer 503: the
 * database can be unreachable (`unavailable`), a mail or SMS provider can fail
 * (`delivery_failed`).
 */
export function problems(...statuses: number[]) {
  return Object.fromEntries([...statuses, 503].map((s) => [s, ProblemAnswer]))
}

export const UserSchema = Type.Object(
  {
    id: Type.String(),
    username: Type.String(),
    email: Type.Union([Type.String(), Type.Null()]),
    email_verified: Type.Boolean(),
    phone: Type.Union([Type.String(), Type.Null()]),
    phone_verified: Type.Boolean(),
    roles: Type.Array(Type.String()),
    locked: Type.Boolean(),
    disabled: Type.Boolean(),
    mfa: Type.Object({
      totp: Type.Boolean(),
      webauthn: Type.Integer(),
      email: Type.Boolean(),
      sms: Type.Boolean(),
      backup_codes_remaining: Type.Integer(),
    }),
    created_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'User' },
)
export type UserJson = Static<typeof UserSchema>
export const UserRef = refTo(UserSchema)

export function userJson(p: UserProfile): UserJson {
  return {
    id: p.id,
    username: p.username,
    email: p.email,
    email_verified: p.emailVerified,
    phone: p.phone,
    phone_verified: p.phoneVerified,
    roles: p.roles,
    // SPEC §4.5: a locked-out account "is locked for LOCKOUT_DURATION (an admin can unlock
    // it)"; showing only an admin's lock left the admin API and UI nothing to unlock.
    locked: p.locked || p.lockedOut,
    disabled: p.disabled,
    mfa: {
      totp: p.mfa.totp,
      webauthn: p.mfa.webauthn,
      email: p.mfa.email,
      sms: p.mfa.sms,
      backup_codes_remaining: p.mfa.backupCodesRemaining,
    },
    created_at: p.createdAt.toISOString(),
  }
}

export const TokenResponseSchema = Type.Object(
  {
    access_token: Type.String(),
    token_type: Type.Literal('Bearer'),
    expires_in: Type.Integer(),
    // Absent in cookie mode (SPEC §7): the web client gets it as the gatehouse_refresh cookie.
    refresh_token: Type.Optional(Type.String()),
    user: UserRef,
  },
  { $id: 'TokenResponse' },
)
export const TokenResponseRef = refTo(TokenResponseSchema)

export function tokenJson(
  tokens: IssuedTokens,
  user: UserProfile,
): Static<typeof TokenResponseSchema> {
  return {
    access_token: tokens.accessToken,
    token_type: 'Bearer',
    expires_in: tokens.expiresIn,
    refresh_token: tokens.refreshToken,
    user: userJson(user),
  }
}

/** Strings a client sends: bounded so nobody makes us hash or store megabytes. */
export const Password = Type.String({ minLength: 1, maxLength: 1024 })
export const Username = Type.String({ minLength: 1, maxLength: 255 })
// The `email` format is services/accounts/contact-rules.ts's isEmailAddress (app.ts registers
// it), the rule accounts.create and user import apply too.
export const Email = Type.String({ format: 'email', maxLength: EMAIL_MAX_LENGTH })
export const Phone = Type.String({ pattern: E164.source })
export const OPAQUE_TOKEN_MAX_LENGTH = 2048
export const OpaqueToken = Type.String({ minLength: 1, maxLength: OPAQUE_TOKEN_MAX_LENGTH })

/** Ids we issue are base64url; anything else names nothing. */
export const IdParam = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' })

/** A TOTP, backup, email or SMS code; its shape is checked by the factor (a wrong shape is a wrong code). */
export const Code = Type.String({ minLength: 1, maxLength: 64 })
export const Channel = Type.Union([Type.Literal('email'), Type.Literal('sms')])
