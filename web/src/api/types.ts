import type { paths } from './openapi'

/**
 * The API's shapes as the screens use them, named from the generated `openapi.ts` (the server's
 * own schemas), so a route that changes shape fails vue-tsc where a screen reads the old one.
 */

/** The JSON body of a 200 answer to `method` on `path`. */
type Ok<P extends keyof paths, M extends 'get' | 'post'> =
  NonNullable<paths[P][M]> extends {
    responses: { 200: { content: { 'application/json': infer Body } } }
  }
    ? Body
    : never

type Login = Ok<'/api/auth/login', 'post'>

export type User = Ok<'/api/auth/me', 'get'>
export type TokenResponse = Extract<Login, { access_token: string }>
export type MfaChallenge = Extract<Login, { mfa_required: true }>
export type Session = Ok<'/api/auth/sessions', 'get'>['sessions'][number]
export type Product = Ok<'/api/products/{id}', 'get'>
export type Role = Ok<'/api/admin/roles', 'get'>['items'][number]
export type AuditEvent = Ok<'/api/admin/audit-log', 'get'>['items'][number]
export type ApiKey = Ok<'/api/admin/api-keys', 'get'>['items'][number]
export type Passkey = Ok<'/api/auth/webauthn/credentials', 'get'>['credentials'][number]

/** Every list answers one page and where the next one starts (SPEC §3). */
export interface Page<T> {
  items: T[]
  next_cursor: string | null
}
