import type {
  ConnectionError,
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
} from 'fastify'
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { errorTable, GatehouseError, type ErrorCode } from '../services/errors.js'
import { loggable } from '../services/ports.js'
import { isDatabaseUnavailable } from '../store/errors.js'
import { HashingRefused } from '../crypto/work-queue.js'
import { BODY_LIMIT_BYTES } from './body-limit.js'

/** What a client is told to wait when the database is unreachable (SPEC §3 `unavailable`). */
export const UNAVAILABLE_RETRY_AFTER_SEC = 5

export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  code: ErrorCode
}

export function problemOf(code: ErrorCode, detail?: string): Problem {
  const row = errorTable[code]
  return {
    type: `https://gatehouse.dev/problems/${code.replaceAll('_', '-')}`,
    title: row.title,
    status: row.status,
    detail: detail ?? row.title,
    code,
  }
}

export function sendProblem(
  reply: FastifyReply,
  code: ErrorCode,
  detail?: string,
  retryAfterSec?: number,
): FastifyReply {
  const problem = problemOf(code, detail)
  if ((problem.status === 429 || problem.status === 503) && retryAfterSec !== undefined) {
    reply.header('retry-after', String(Math.max(1, Math.ceil(retryAfterSec))))
  }
  if (problem.status === 401 && !reply.hasHeader('www-authenticate')) {
    // RFC 6750 §3: a Bearer-protected resource names the scheme on every 401.
    reply.header(
      'www-authenticate',
      code === 'invalid_token' || code === 'token_expired'
        ? `Bearer error="invalid_token", error_description="${problem.detail.replaceAll('"', "'")}"`
        : 'Bearer',
    )
  }
  return reply.code(problem.status).type('application/problem+json').send(problem)
}

interface ClientErrorAnswer {
  status: number
  code: ErrorCode
  detail: string
}

/**
 * Errors Node's HTTP parser raises before Fastify sees a request, as SPEC §3 problems. The
 * status is Node's own (what a client or proxy acts on); the code is the nearest SPEC §3 one:
 * too-large headers or chunk extensions are `payload_too_large`, a request not received in full
 * within the time limit is `malformed_request`, like any other unreadable request.
 */
const clientErrors: Record<string, ClientErrorAnswer> = {
  HPE_HEADER_OVERFLOW: {
    status: 431,
    code: 'payload_too_large',
    detail: 'the request headers are too large',
  },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: {
    status: 413,
    code: 'payload_too_large',
    detail: 'the chunk extensions are too large',
  },
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: 408,
    code: 'malformed_request',
    detail: 'the request was not received in time',
  },
}
const otherClientError: ClientErrorAnswer = {
  status: 400,
  code: 'malformed_request',
  detail: 'the request could not be parsed as HTTP',
}

/** A whole HTTP/1.1 response, for a socket no request or reply object owns yet. */
function rawProblemResponse(
  { status, code, detail }: ClientErrorAnswer,
  headers: Record<string, string> = {},
): string {
  const body = JSON.stringify({ ...problemOf(code, detail), status })
  const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`)
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
    'Content-Type: application/problem+json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    extra.join('') +
    'Connection: close\r\n\r\n' +
    body
  )
}

/**
 * Node hands a CONNECT (a request to open a proxy tunnel) to a 'connect' listener instead of
 * the router, and without one closes the connection without a word. This is no proxy: say so,
 * with the methods there are (RFC 9110 §15.5.6).
 */
export function refuseConnect(_request: IncomingMessage, socket: Duplex): void {
  const answer = {
    status: 405,
    code: 'method_not_allowed',
    detail: 'CONNECT is not allowed: this is not a proxy',
  } as const
  if (socket.writable)
    socket.write(
      rawProblemResponse(answer, { Allow: 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS' }),
    )
  socket.destroy()
}

/**
 * Fastify's `clientErrorHandler`: a malformed request line, headers over Node's limit or a
 * request timeout is answered as problem+json, not with Fastify's `{error, message,
 * statusCode}`. Like Node's own handler, it writes nothing on a reset or closed socket, or once
 * a reply to the request in flight has started (a second status line would corrupt it).
 */
export function answerClientError(
  this: FastifyInstance,
  error: ConnectionError,
  socket: Socket,
): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  // The code only: the error carries the raw bytes received, Authorization headers included.
  this.log.trace({ code: error.code }, 'client error')
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage
  const answer =
    (error.code === undefined ? undefined : clientErrors[error.code]) ?? otherClientError
  if (socket.writable && !inFlight?.headersSent) socket.write(rawProblemResponse(answer))
  socket.destroy(error)
}

interface ValidationIssue {
  instancePath?: string
  keyword?: string
  message?: string
  params?: Record<string, unknown>
}

/**
 * A value that must be one of a few literals fails each literal's `const` in turn, and ajv's
 * first message ("must be equal to constant") named none of them; the values every branch
 * allowed at that place are what the client needs to read.
 */
function allowedAt(issues: ValidationIssue[], path: string | undefined): string | undefined {
  const values = issues
    .filter((i) => i.keyword === 'const' && i.instancePath === path)
    .map((i) => i.params?.allowedValue)
  const shown = values.filter((v) => typeof v === 'string' || typeof v === 'number')
  return shown.length > 0 && shown.length === values.length
    ? `must be one of ${shown.join(', ')}`
    : undefined
}

/** "body.password: must be at least 12 characters" — names the field, as SPEC §3 asks. */
function describeValidation(error: FastifyError): string {
  const issue = (error.validation?.[0] ?? {}) as ValidationIssue
  const context = error.validationContext ?? 'body'
  const path = (issue.instancePath ?? '').replace(/^\//, '').replaceAll('/', '.')
  const missing = issue.params?.requiredProperties ?? issue.params?.missingProperty
  const field =
    path ||
    (Array.isArray(missing) ? String(missing[0]) : typeof missing === 'string' ? missing : '')
  const where = field ? `${context}.${field}` : context
  const message =
    issue.keyword === 'const' ? allowedAt(error.validation ?? [], issue.instancePath) : undefined
  return `${where}: ${message ?? issue.message ?? 'is invalid'}`
}

/** The body types this route's scope parses, for a 415's detail: forms, JSON, or both. */
function acceptedTypes(request: FastifyRequest): string {
  const types = ['application/json', 'application/x-www-form-urlencoded'].filter((t) =>
    request.server.hasContentTypeParser(t),
  )
  return types.length === 0 ? 'this endpoint takes no body' : `send ${types.join(' or ')}`
}

/** The SPEC §3 code and detail of one of Fastify's own refusals, or undefined for anything else. */
export function mapFastifyError(
  error: FastifyError,
  request: FastifyRequest,
): { code: ErrorCode; detail: string } | undefined {
  if (error.validation) return { code: 'validation_error', detail: describeValidation(error) }
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        code: 'payload_too_large',
        detail: `the request body is larger than ${BODY_LIMIT_BYTES / 1024} KiB`,
      }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { code: 'unsupported_media_type', detail: acceptedTypes(request) }
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { code: 'malformed_request', detail: 'the request body could not be parsed' }
  }
  if (error.statusCode === 413)
    return { code: 'payload_too_large', detail: 'the request body is too large' }
  if (error.statusCode === 415)
    return { code: 'unsupported_media_type', detail: 'unsupported content type' }
  if (error.statusCode === 400 || error instanceof SyntaxError) {
    return { code: 'malformed_request', detail: 'the request could not be parsed' }
  }
  return undefined
}

/** The single place that turns failures into RFC 9457 problem+json. */
export function installProblemHandlers(
  app: FastifyInstance,
  allowedMethods: (url: string) => string[],
  /** The web UI's shell for page paths the API does not own; true when it answered. */
  pageFallback: (request: FastifyRequest, reply: FastifyReply) => boolean = () => false,
): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof GatehouseError) {
      return sendProblem(reply, error.code, error.message, error.retryAfterSec)
    }
    if (request.raw.readableAborted) {
      // The client left in the middle of its body. Node reports that as ECONNRESET, the code a
      // lost database connection has too; it is neither an outage nor a bug.
      request.log.info('the client left before sending the whole request')
      return sendProblem(reply, 'malformed_request', 'the request body was cut short')
    }
    if (isDatabaseUnavailable(error)) {
      // A warning, not an error: an outage is the operator's, not a bug. Code and message
      // only: mysql2 attaches the failed statement with its values inlined (hashes included).
      request.log.warn({ code: error.code, reason: error.message }, 'database unreachable')
      return sendProblem(
        reply,
        'unavailable',
        'the database is unreachable; try again shortly',
        UNAVAILABLE_RETRY_AFTER_SEC,
      )
    }
    if (error instanceof HashingRefused) {
      // Load, not a bug: the password hasher's line was full, or this client left it.
      request.log.info({ reason: error.reason }, 'password not hashed')
      return sendProblem(
        reply,
        'unavailable',
        'the server is busy checking passwords; try again shortly',
        1,
      )
    }
    const mapped = mapFastifyError(error, request)
    if (mapped) return sendProblem(reply, mapped.code, mapped.detail)
    // Anything else is our bug: log it with the request id, answer without details.
    request.log.error({ err: loggable(error) }, 'unhandled error')
    return reply.code(500).type('application/problem+json').send({
      type: 'about:blank',
      title: 'Internal Server Error',
      status: 500,
      detail: 'internal error',
      code: 'internal_error',
    })
  })

  app.setNotFoundHandler((request, reply) => {
    const methods = allowedMethods(request.url)
    // A matched route that calls notFound itself (a missing static file) is a 404, not a 405.
    const method = request.method === 'HEAD' ? 'GET' : request.method
    // A CORS preflight gets here only when its origin is not allowed (the CORS plugin answers
    // the others): saying so beats a 405 that sends its developer looking at the method.
    if (methods.length > 0 && isPreflight(request)) {
      return sendProblem(
        reply,
        'forbidden',
        'cross-origin requests from this origin are not allowed (it is not in CORS_ORIGINS)',
      )
    }
    if (methods.length > 0 && !methods.includes(method)) {
      reply.header('allow', methods.join(', '))
      return sendProblem(
        reply,
        'method_not_allowed',
        `${request.method} is not allowed here; use ${methods.join(', ')}`,
      )
    }
    if (pageFallback(request, reply)) return reply
    return sendProblem(
      reply,
      'not_found',
      `no route for ${request.method} ${request.url.split('?')[0] ?? ''}`,
    )
  })
}

const isPreflight = (request: FastifyRequest): boolean =>
  request.method === 'OPTIONS' &&
  request.headers.origin !== undefined &&
  request.headers['access-control-request-method'] !== undefined
