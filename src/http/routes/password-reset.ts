import { Type } from 'typebox'
import type { Services } from '../../container.js'
import { contextOf } from '../context.js'
import { Code, Password, problems, Username } from '../schemas/common.js'
import type { App } from './types.js'

/** Forgot/reset password (SPEC §4.1). */
export function passwordResetRoutes(services: Services) {
  return async (app: App) => {
    const { passwordReset } = services

    app.post(
      '/api/auth/password/forgot',
      {
        schema: {
          tags: ['auth'],
          body: Type.Object({ username: Username }),
          response: { 202: Type.Object({}), ...problems(400, 413, 415) },
        },
      },
      async (request, reply) => {
        // SPEC §4.1 and §4.4: always 202 {}, whether the account exists, has no verified
        // contact, or is throttled. The per-IP flood limit is no exception: over it, nothing
        // is looked up or sent.
        const verdict = await services.routeLimits.check('password_reset', {
          ip: request.ip ?? null,
        })
        if (verdict.ok) await passwordReset.request(request.body.username, contextOf(request))
        else services.observability.security.rateLimited('password_reset')
        return reply.code(202).send({})
      },
    )

    app.post(
      '/api/auth/password/reset',
      {
        config: { rateLimit: 'password_reset' },
        schema: {
          tags: ['auth'],
          body: Type.Object({ username: Username, code: Code, new_password: Password }),
          response: { 204: Type.Null(), ...problems(400, 401, 413, 415, 429) },
        },
      },
      async (request, reply) => {
        const { username, code, new_password } = request.body
        await passwordReset.reset(username, code, new_password, contextOf(request))
        return reply.code(204).send(null)
      },
    )
  }
}
