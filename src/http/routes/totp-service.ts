import { Type } from 'typebox'
import { noStore } from '../no-store.js'
import type { Services } from '../../container.js'
import type { TotpCaller } from '../../services/totp-service/totp-service.js'
import { GatehouseError } from '../../services/errors.js'
import { contextOf } from '../context.js'
import { apiKeyOf, requireApiKey } from '../guards.js'
import { mapFastifyError } from '../problem.js'
import { problems } from '../schemas/common.js'
import type { FastifyError, FastifyRequest } from 'fastify'
import type { App } from './types.js'

// The calling app's own user id: any printable text, kept verbatim (case included).
const SubjectName = Type.String({
  minLength: 1,
  maxLength: 255,
  pattern: '^[^\\u0000-\\u001f\\u007f]+$',
})
const Subject = {
  username: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  verified_once: Type.Boolean(),
}
const security = [{ apiKey: [] }]
const tags = ['totp-service']
const config = { rateLimit: 'totp_service' as const }

function callerOf(request: FastifyRequest): TotpCaller {
  const key = apiKeyOf(request)
  return { owner: key.owner, apiKeyId: key.id, context: contextOf(request) }
}

const refusalReasons: Partial<Record<string, string>> = {
  unauthorized: 'no_api_key',
  invalid_api_key: 'invalid_api_key',
  forbidden: 'missing_scope',
  rate_limited: 'throttled',
  // Our own body refusals (a body that is not UTF-8), named as Fastify's are.
  malformed_request: 'malformed_request',
}

/** Why a call was refused before the service saw it, or undefined if the service did. */
function refusalOf(error: FastifyError | Error, request: FastifyRequest): string | undefined {
  if (error instanceof GatehouseError) return refusalReasons[error.code]
  // Fastify's own refusals, before any handler (the body's type, size, syntax or schema),
  // named by the code the error handler answers them with.
  return mapFastifyError(error as FastifyError, request)?.code
}

/** The audit event of the call a request makes, by its route. */
function eventOf(request: FastifyRequest) {
  const url = request.routeOptions.url
  if (url === '/api/totp/register') return 'totp_service_registered' as const
  if (url === '/api/totp/verify') return 'totp_service_verified' as const
  if (url !== '/api/totp/:username') return undefined
  return request.method === 'DELETE'
    ? ('totp_service_deleted' as const)
    : ('totp_service_read' as const)
}

/** The subject a refused call named, as sent (it may not have passed the schema yet). */
function subjectOf(request: FastifyRequest): string | null {
  const from = (request.method === 'POST' ? request.body : request.params) as
    { username?: unknown } | undefined
  return typeof from?.username === 'string' ? from.username : null
}

/** TOTP as a service (SPEC §4.7), for apps that keep their own users; `X-API-Key` scope totp. */
export function totpServiceRoutes(services: Services) {
  return async (app: App) => {
    const { totpService } = services
    app.addHook('preValidation', requireApiKey(services.apiKeys, 'totp'))
    // SPEC §4.7 audits every call: the service records what it answers; a call refused before
    // it (no key, a dead key, a key without the scope, a limiter, a body it cannot take) is
    // recorded here, so a key guessing codes still leaves a trail once it is throttled.
    app.addHook('onError', async (request, _reply, error) => {
      const reason = refusalOf(error, request)
      const event = eventOf(request)
      if (reason === undefined || event === undefined) return
      await services.audit.record({
        event,
        outcome: 'failure',
        username: subjectOf(request),
        details: {
          owner: request.apiKey?.owner ?? null,
          api_key_id: request.apiKey?.id ?? null,
          reason,
        },
        context: contextOf(request),
      })
    })

    app.post(
      '/api/totp/register',
      {
        onRequest: noStore,
        config,
        schema: {
          tags,
          security,
          body: Type.Object({ username: SubjectName }),
          response: {
            201: Type.Object({
              ...Subject,
              provisioning_uri: Type.String(),
              qr_code_base64: Type.String(),
            }),
            ...problems(400, 401, 403, 409, 413, 415, 429),
          },
        },
      },
      async (request, reply) => {
        const subject = await totpService.register(request.body.username, callerOf(request))
        return reply.code(201).send({
          username: subject.username,
          created_at: subject.createdAt.toISOString(),
          verified_once: subject.verifiedOnce,
          provisioning_uri: subject.provisioningUri,
          qr_code_base64: subject.qrCode,
        })
      },
    )

    app.post(
      '/api/totp/verify',
      {
        config,
        schema: {
          tags,
          security,
          body: Type.Object({ username: SubjectName, otp: Type.String({ maxLength: 32 }) }),
          response: {
            200: Type.Object({
              status: Type.Literal('success'),
              username: Type.String(),
              message: Type.String(),
            }),
            ...problems(400, 401, 403, 404, 413, 415, 429),
          },
        },
      },
      async (request) => {
        const { username, otp } = request.body
        const caller = callerOf(request)
        // Counted before the code is checked, so parallel guesses cannot exceed the limit.
        await totpService.verify(username, otp.trim(), caller, async (subjectId) => {
          const verdict = await services.routeLimits.checkKey('totp_service', subjectId)
          if (!verdict.ok) {
            services.observability.security.rateLimited('totp_service')
            throw new GatehouseError('rate_limited', {
              detail: 'too many codes tried for this subject; try again later',
              retryAfterSec: verdict.retryAfterSec,
            })
          }
        })
        return { status: 'success' as const, username, message: 'the code is valid' }
      },
    )

    app.get(
      '/api/totp/:username',
      {
        config,
        schema: {
          tags,
          security,
          params: Type.Object({ username: SubjectName }),
          response: { 200: Type.Object(Subject), ...problems(400, 401, 403, 404, 429) },
        },
      },
      async (request) => {
        const subject = await totpService.get(request.params.username, callerOf(request))
        return {
          username: subject.username,
          created_at: subject.createdAt.toISOString(),
          verified_once: subject.verifiedOnce,
        }
      },
    )

    app.delete(
      '/api/totp/:username',
      {
        config,
        schema: {
          tags,
          security,
          params: Type.Object({ username: SubjectName }),
          response: { 204: Type.Null(), ...problems(400, 401, 403, 404, 429) },
        },
      },
      async (request, reply) => {
        await totpService.remove(request.params.username, callerOf(request))
        return reply.code(204).send(null)
      },
    )
  }
}
