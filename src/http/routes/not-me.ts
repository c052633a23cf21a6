import { Type } from 'typebox'
import type { Services } from '../../container.js'
import { contextOf } from '../context.js'
import { OpaqueToken, problems } from '../schemas/common.js'
import type { App } from './types.js'

/** "This wasn't me" from a security notification (SPEC §4.13); the token is the credential. */
export function notMeRoutes(services: Services) {
  return async (app: App) => {
    app.post(
      '/api/auth/not-me',
      {
        schema: {
          tags: ['auth'],
          description:
            'Reports that a notified event was not the account owner: every session ends and the password is refused (403 password_reset_required) until a reset through forgot/reset. The token is single-use and valid 7 days.',
          body: Type.Object({ token: OpaqueToken }),
          response: { 204: Type.Null(), ...problems(400, 401, 413, 415) },
        },
      },
      async (request, reply) => {
        await services.notMe.report(request.body.token, contextOf(request))
        return reply.code(204).send(null)
      },
    )
  }
}
