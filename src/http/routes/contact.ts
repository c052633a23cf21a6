import { Type } from 'typebox'
import type { Services } from '../../container.js'
import { GatehouseError } from '../../services/errors.js'
import { principalOf, requireBearer } from '../auth.js'
import { contextOf } from '../context.js'
import { Channel, Code, problems, Username, UserRef, userJson } from '../schemas/common.js'
import type { App } from './types.js'

/** Contact verification (SPEC §4.1): prove an email address or phone number with a code. */
export function contactRoutes(services: Services) {
  return async (app: App) => {
    const { contacts, profiles, sessions } = services

    app.post(
      '/api/auth/verify-contact',
      {
        config: { rateLimit: 'mfa' },
        schema: {
          tags: ['auth'],
          body: Type.Object({ username: Username, channel: Channel, code: Code }),
          response: {
            200: Type.Object({ user: UserRef }),
            ...problems(400, 401, 413, 415, 429),
          },
        },
      },
      async (request) => {
        const { username, channel, code } = request.body
        const userId = await contacts.verify(username, channel, code, contextOf(request))
        const profile = await profiles.get(userId)
        if (!profile) throw new GatehouseError('invalid_code')
        return { user: userJson(profile) }
      },
    )

    await app.register(async (authed: App) => {
      authed.addHook('preValidation', requireBearer(sessions))
      authed.post(
        '/api/auth/verify-contact/send',
        {
          config: { rateLimit: 'send_code' },
          schema: {
            tags: ['auth'],
            security: [{ bearerAuth: [] }],
            body: Type.Object({ channel: Channel }),
            response: { 202: Type.Object({}), ...problems(400, 401, 409, 413, 415, 429) },
          },
        },
        async (request, reply) => {
          await contacts.resend(principalOf(request).sub, request.body.channel)
          return reply.code(202).send({})
        },
      )
    })
  }
}
