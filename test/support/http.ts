import type { LightMyRequestResponse } from 'fastify'
import type { App } from '../../src/http/routes/types.js'

export interface JsonResponse<T = Record<string, unknown>> {
  status: number
  body: T
  headers: LightMyRequestResponse['headers']
  raw: LightMyRequestResponse
}

/** Small typed helpers over app.inject for JSON APIs. */
export function client(app: App) {
  return clientOf(() => app)
}

/** The same, for an app that starts later (see useTestApp): it is looked up on every call. */
export function clientOf(appNow: () => App) {
  async function call<T = Record<string, unknown>>(
    method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    url: string,
    opts: { body?: unknown; token?: string; headers?: Record<string, string> } = {},
  ): Promise<JsonResponse<T>> {
    const headers: Record<string, string> = { ...opts.headers }
    if (opts.token) headers.authorization = `Bearer ${opts.token}`
    const res = await appNow().inject({
      method,
      url,
      headers,
      ...(opts.body === undefined ? {} : { payload: opts.body as object }),
    })
    let body: unknown = undefined
    if (res.body.length > 0 && /json/.test(String(res.headers['content-type'])))
      body = JSON.parse(res.body)
    return { status: res.statusCode, body: body as T, headers: res.headers, raw: res }
  }
  return {
    call,
    get: <T = Record<string, unknown>>(url: string, token?: string) =>
      call<T>('GET', url, { token }),
    post: <T = Record<string, unknown>>(url: string, body?: unknown, token?: string) =>
      call<T>('POST', url, { body, token }),
    delete: <T = Record<string, unknown>>(url: string, token?: string) =>
      call<T>('DELETE', url, { token }),
  }
}

export type Client = ReturnType<typeof clientOf>

export const STRONG_PASSWORD = 'correct horse battery staple'

export interface Tokens {
  access_token: string
  refresh_token: string
  expires_in: number
  token_type: string
  user: { id: string; username: string; roles: string[] }
}

export async function registerAndLogin(
  api: Client,
  username: string,
  password = STRONG_PASSWORD,
): Promise<Tokens> {
  const reg = await api.post('/api/auth/register', { username, password })
  if (reg.status !== 201)
    throw new Error(`register failed: ${reg.status} ${JSON.stringify(reg.body)}`)
  const login = await api.post<Tokens>('/api/auth/login', { username, password })
  if (login.status !== 200)
    throw new Error(`login failed: ${login.status} ${JSON.stringify(login.body)}`)
  return login.body
}
