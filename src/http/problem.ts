import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { errorTable, GatehouseError, type ErrorCode } from '../services/errors.js'
import { isDatabaseUnavailable } from '../store/errors.js'
import { HashingRefused } from '../crypto/hashing.js'

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

interface ValidationIssue {
  instancePath?: string
  message?: string
  params?: Record<string, unknown>
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
  return `${where}: ${issue.message ?? 'is invalid'}`
}

function mapFastifyError(error: FastifyError): { code: ErrorCode; detail: string } | undefined {
  if (error.validation) return { code: 'validation_error', detail: describeValidation(error) }
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { code: 'payload_too_large', detail: 'the request body is larger than 64 KiB' }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { code: 'unsupported_media_type', detail: 'send application/json' }
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
    const mapped = mapFastifyError(error)
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

/**
 * What of an unexpected error goes to the log: its kind, code, message and stack. Not the
 * rest of its own properties: mysql2 attaches the failed statement with its values inlined
 * (`sql`), and pg the offending row (`detail`, `where`), which can hold hashes and secrets.
 */
function loggable(error: FastifyError): Record<string, unknown> {
  return { type: error.name, code: error.code, message: error.message, stack: error.stack }
}
