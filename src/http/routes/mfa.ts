import type { FastifyRequest } from 'fastify'
import { noStore } from '../no-store.js'
import { Type } from 'typebox'
import type { Services } from '../../container.js'
import type { Enroller } from '../../services/mfa/enrolment.js'
import { principalOf, requireBearer } from '../auth.js'
import { contextOf } from '../context.js'
import { Code, Password, problems } from '../schemas/common.js'
import type { App } from './types.js'

const bearer = [{ bearerAuth: [] }]
const BackupCodesSchema = Type.Object({
  backup_codes: Type.Array(Type.String(), { minItems: 10, maxItems: 10 }),
})

function enrollerOf(request: FastifyRequest): Enroller {
  const p = principalOf(request)
  return { userId: p.sub, username: p.username, amr: p.amr }
}

/** The signed-in user's second factors (SPEC §4.2), all behind the Bearer check. */
export function mfaRoutes(services: Services) {
  return async (app: App) => {
    const { mfa } = services
    app.addHook('preValidation', requireBearer(services.sessions))

    app.post(
      '/api/auth/2fa/totp/setup',
      {
        onRequest: noStore,
        schema: {
          tags: ['2fa'],
          security: bearer,
          response: {
            200: Type.Object({
              secret: Type.String(),
              otpauth_url: Type.String(),
              qr_code: Type.String(),
            }),
            ...problems(401, 403, 409),
          },
        },
      },
      async (request) => {
        const setup = await mfa.totpSetup(enrollerOf(request))
        return { secret: setup.secret, otpauth_url: setup.otpauthUrl, qr_code: setup.qrCode }
      },
    )

    app.post(
      '/api/auth/2fa/totp/enable',
      {
        onRequest: noStore,
        config: { rateLimit: 'mfa' },
        schema: {
          tags: ['2fa'],
          security: bearer,
          body: Type.Object({ code: Code }),
          response: { 200: BackupCodesSchema, ...problems(400, 401, 403, 409, 413, 415, 429) },
        },
      },
      async (request) => {
        const codes = await mfa.totpEnable(
          enrollerOf(request),
          request.body.code,
          contextOf(request),
        )
        return { backup_codes: codes }
      },
    )

    for (const channel of ['email', 'sms'] as const) {
      app.post(
        `/api/auth/2fa/${channel}/enable`,
        {
          schema: {
            tags: ['2fa'],
            security: bearer,
            response: { 204: Type.Null(), ...problems(401, 403, 409) },
          },
        },
        async (request, reply) => {
          await mfa.channelEnable(enrollerOf(request), channel, contextOf(request))
          return reply.code(204).send(null)
        },
      )
    }

    app.post(
      '/api/auth/2fa/disable',
      {
        config: { rateLimit: 'mfa' },
        schema: {
          tags: ['2fa'],
          security: bearer,
          body: Type.Object({ password: Password, code: Type.Optional(Code) }),
          response: { 204: Type.Null(), ...problems(400, 401, 403, 413, 415, 429) },
        },
      },
      async (request, reply) => {
        const { password, code } = request.body
        await mfa.disable(enrollerOf(request), password, code, contextOf(request))
        return reply.code(204).send(null)
      },
    )

    app.post(
      '/api/auth/2fa/backup-codes',
      {
        onRequest: noStore,
        config: { rateLimit: 'mfa' },
        schema: {
          tags: ['2fa'],
          security: bearer,
          body: Type.Object({ password: Password }),
          response: { 200: BackupCodesSchema, ...problems(400, 401, 403, 409, 413, 415, 429) },
        },
      },
      async (request) => {
        const codes = await mfa.regenerateBackupCodes(
          enrollerOf(request),
          request.body.password,
          contextOf(request),
        )
        return { backup_codes: codes }
      },
    )
  }
}
