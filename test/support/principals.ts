import type { TestApp } from './harness.js'
import { STRONG_PASSWORD, type Client, type Tokens } from './http.js'

const context = { ip: '127.0.0.1', userAgent: 'test' }

/** Creates a user with these roles and logs in with the password: a token with amr ["pwd"]. */
export async function userWithRoles(
  t: TestApp,
  api: Client,
  username: string,
  roles: string[],
): Promise<{ id: string; token: string }> {
  const id = await t.services.accounts.create({ username, password: STRONG_PASSWORD, roles })
  const login = await api.post<Tokens>('/api/auth/login', { username, password: STRONG_PASSWORD })
  if (login.status !== 200) throw new Error(`login failed: ${JSON.stringify(login.body)}`)
  return { id, token: login.body.access_token }
}

/**
 * A token as a login with a second factor would give (amr ["pwd","mfa","otp"]). Second factors
 * live in another part of the code base; these tests are about what admins may do with such a
 * token, so the session is opened directly through the session service.
 */
export async function mfaToken(t: TestApp, userId: string): Promise<string> {
  const tokens = await t.services.sessions.start({ userId, amr: ['pwd', 'mfa', 'otp'], context })
  return tokens.accessToken
}

/** An admin (created directly) holding an MFA token. */
export async function adminWithMfa(
  t: TestApp,
  username: string,
): Promise<{ id: string; token: string }> {
  const id = await t.services.accounts.create({
    username,
    password: STRONG_PASSWORD,
    roles: ['admin', 'user'],
  })
  return { id, token: await mfaToken(t, id) }
}

/** An API key made through the service, as the admin API or the CLI would make it. */
export async function apiKey(
  t: TestApp,
  scopes: ('totp' | 'introspect')[],
  owner = 'tenant-a',
): Promise<{ id: string; key: string }> {
  const { apiKey: created, key } = await t.services.apiKeys.create(
    { name: `key-${owner}-${scopes.join('-')}`, scopes, owner },
    { actorId: null },
  )
  return { id: created.id, key }
}
