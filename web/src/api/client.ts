import { problemCodeOf, type ProblemCode } from './problem-codes'
import { messageFor, type Problem, type ProblemMessage } from './problems'

/** A problem+json answer (or a network failure, status 0) as one typed error. */
export class ApiError extends Error {
  readonly status: number
  readonly code: ProblemCode
  readonly detail: string
  readonly retryAfterSec: number | undefined

  constructor(problem: Problem, retryAfterSec?: number) {
    super(problem.detail ?? problem.title ?? `HTTP ${problem.status}`)
    this.status = problem.status
    this.code = problemCodeOf(problem.code)
    this.detail = problem.detail ?? ''
    this.retryAfterSec = retryAfterSec
  }

  /** The human message, beside one of `fields` when the detail names it. */
  explain(fields: readonly string[] = []): ProblemMessage {
    return messageFor(
      { status: this.status, code: this.code, detail: this.detail },
      { fields, retryAfterSec: this.retryAfterSec },
    )
  }
}

export interface ClientHooks {
  /** The access token held in memory, if any. */
  accessToken(): string | undefined
  /** One refresh through the cookie; true when a new access token is in place. */
  refresh(): Promise<boolean>
  /** The session is gone for good: send the person to login (and back afterwards). */
  sessionLost(): void
}

let hooks: ClientHooks | undefined

export function installClientHooks(h: ClientHooks): void {
  hooks = h
}

export interface RequestOptions {
  body?: unknown
  /** Sends the Bearer token and retries once after a cookie refresh on 401. Default true. */
  auth?: boolean
  query?: Record<string, string | number | undefined>
  /**
   * On a 401, refresh through the cookie and retry once, and treat a second 401 as the end of
   * the session. Default true; false hands every 401 to the caller, for answers where a 401
   * means "sign in again" rather than "the session is gone".
   */
  recover?: boolean
}

const sessionCodes = new Set(['token_expired', 'invalid_token', 'unauthorized'])

async function send(method: string, path: string, opts: RequestOptions): Promise<Response> {
  const headers: Record<string, string> = {
    accept: 'application/json',
    // Cookie mode (SPEC §7): the server only reads the refresh cookie when this header is sent.
    'x-gatehouse-client': 'web',
  }
  const token = opts.auth === false ? undefined : hooks?.accessToken()
  if (token) headers.authorization = `Bearer ${token}`
  let body: string | undefined
  if (opts.body !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(opts.body)
  }
  let url = path
  if (opts.query) {
    const params = new URLSearchParams()
    for (const [k, v] of Object.entries(opts.query)) {
      if (v !== undefined && v !== '') params.set(k, String(v))
    }
    const qs = params.toString()
    if (qs) url += `?${qs}`
  }
  try {
    return await fetch(url, { method, headers, body, credentials: 'same-origin' })
  } catch {
    throw new ApiError({ status: 0, code: 'network', detail: 'network error' })
  }
}

async function problemOf(res: Response): Promise<ApiError> {
  const retry = res.headers.get('retry-after')
  const retryAfterSec = retry !== null && /^\d+$/.test(retry) ? Number(retry) : undefined
  let problem: Problem = { status: res.status, title: res.statusText }
  try {
    const json = (await res.json()) as Partial<Problem>
    problem = { ...problem, ...json, status: res.status }
  } catch {
    // Not JSON (a proxy's error page): the status alone has to do.
  }
  return new ApiError(problem, retryAfterSec)
}

/** The one fetch client: JSON in and out, problem+json → ApiError, one refresh on 401. */
export async function request<T>(
  method: string,
  path: string,
  opts: RequestOptions = {},
): Promise<T> {
  let res = await send(method, path, opts)
  const withAuth =
    opts.auth !== false && opts.recover !== false && hooks?.accessToken() !== undefined
  if (res.status === 401 && withAuth) {
    const err = await problemOf(res.clone())
    if (sessionCodes.has(err.code)) {
      if (await hooks!.refresh()) {
        res = await send(method, path, opts)
      }
      if (res.status === 401) {
        hooks!.sessionLost()
        throw await problemOf(res)
      }
    }
  }
  if (!res.ok) throw await problemOf(res)
  if (res.status === 204 || res.status === 202) return undefined as T
  const text = await res.text()
  return (text ? JSON.parse(text) : undefined) as T
}

export const api = {
  get: <T>(path: string, query?: RequestOptions['query']) => request<T>('GET', path, { query }),
  post: <T>(path: string, body: unknown = {}, opts: Omit<RequestOptions, 'body'> = {}) =>
    request<T>('POST', path, { ...opts, body }),
  put: <T>(path: string, body: unknown) => request<T>('PUT', path, { body }),
  patch: <T>(path: string, body: unknown) => request<T>('PATCH', path, { body }),
  delete: <T = void>(path: string) => request<T>('DELETE', path),
}
