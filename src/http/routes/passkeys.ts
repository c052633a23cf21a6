import { Type } from 'typebox'
import type { Services } from '../../container.js'
import { principalOf, requireBearer } from '../auth.js'
import { contextOf } from '../context.js'
import { IdParam, OpaqueToken, problems, TokenResponseRef } from '../schemas/common.js'
import {
  AuthenticationResponseBody,
  authenticationResponse,
  CreationOptionsSchema,
  PasskeyName,
  PasskeyRef,
  passkeyJson,
  RegistrationResponseBody,
  registrationResponse,
  RequestOptionsSchema,
} from '../schemas/webauthn.js'
import { noStore } from '../no-store.js'
import { tokenResponses } from '../token-response.js'
import { installWebClientCookies } from '../web-client.js'
import type { App } from './types.js'

const bearer = [{ bearerAuth: [] }]

/** Passkeys (SPEC §4.9): the public sign-in routes, and the signed-in user's passkeys. */
export function passkeyRoutes(services: Services) {
  return async (app: App) => {
    const { registration, credentials, login } = services.passkeys
    const tokenResponse = tokenResponses(services.profiles)
    // SPEC §7: passkey/verify honours cookie mode like login.
    const web = await installWebClientCookies(app, services)

    app.post(
      '/api/auth/login/webauthn/options',
      {
        onRequest: noStore,
        config: { rateLimit: 'mfa' },
        schema: {
          tags: ['auth'],
          summary: 'Options for a passkey as the second factor of this mfa_token',
          body: Type.Object({ mfa_token: OpaqueToken }),
          response: { 200: RequestOptionsSchema, ...problems(400, 401, 413, 415, 429) },
        },
      },
      async (request) => services.loginFlow.passkeyOptions(request.body.mfa_token),
    )

    app.post(
      '/api/auth/passkey/options',
      {
        onRequest: noStore,
        config: { rateLimit: 'mfa' },
        schema: {
          tags: ['auth'],
          summary: 'Options for a passwordless sign-in with a discoverable passkey',
          body: Type.Object({}),
          response: {
            200: Type.Object({ challenge_id: Type.String(), options: RequestOptionsSchema }),
            ...problems(400, 413, 415, 429),
          },
        },
        // Nothing to send: a bodiless POST is as good as `{}`. A JSON `null` is not bodiless
        // but a body that is not an object, a validation_error like everywhere (SPEC §3).
        preValidation: async (request) => {
          if (request.body === undefined) request.body = {}
        },
      },
      async () => {
        const { challengeId, options } = await login.options()
        return { challenge_id: challengeId, options }
      },
    )

    app.post(
      '/api/auth/passkey/verify',
      {
        onRequest: noStore,
        config: { rateLimit: 'mfa' },
        schema: {
          tags: ['auth'],
          summary: 'Passwordless sign-in: the passkey answer to passkey/options',
          body: Type.Object({ challenge_id: IdParam, response: AuthenticationResponseBody }),
          response: { 200: TokenResponseRef, ...problems(400, 401, 403, 413, 415, 429) },
        },
      },
      async (request, reply) => {
        const tokens = await login.login({
          challengeId: request.body.challenge_id,
          response: authenticationResponse(request.body.response),
          context: contextOf(request),
        })
        return web.tokenReply(request, reply, await tokenResponse(tokens), tokens.sessionId)
      },
    )

    await app.register(async (authed: App) => {
      authed.addHook('preValidation', requireBearer(services.sessions))
      const who = (request: Parameters<typeof principalOf>[0]) => {
        const p = principalOf(request)
        return { userId: p.sub, username: p.username, amr: p.amr }
      }

      authed.post(
        '/api/auth/webauthn/register/options',
        {
          onRequest: noStore,
          config: { rateLimit: 'mfa' },
          schema: {
            tags: ['passkeys'],
            security: bearer,
            response: { 200: CreationOptionsSchema, ...problems(401, 403, 429) },
          },
        },
        async (request) => registration.options(who(request)),
      )

      authed.post(
        '/api/auth/webauthn/register/verify',
        {
          config: { rateLimit: 'mfa' },
          schema: {
            tags: ['passkeys'],
            security: bearer,
            body: Type.Object({
              response: RegistrationResponseBody,
              name: Type.Optional(PasskeyName),
            }),
            response: { 201: PasskeyRef, ...problems(400, 401, 403, 409, 413, 415, 429) },
          },
        },
        async (request, reply) => {
          const passkey = await registration.verify(
            who(request),
            registrationResponse(request.body.response),
            request.body.name,
            contextOf(request),
          )
          return reply.code(201).send(passkeyJson(passkey))
        },
      )

      authed.get(
        '/api/auth/webauthn/credentials',
        {
          schema: {
            tags: ['passkeys'],
            security: bearer,
            response: {
              200: Type.Object({ credentials: Type.Array(PasskeyRef) }),
              ...problems(401),
            },
          },
        },
        async (request) => ({
          credentials: (await credentials.list(principalOf(request).sub)).map(passkeyJson),
        }),
      )

      authed.patch(
        '/api/auth/webauthn/credentials/:id',
        {
          schema: {
            tags: ['passkeys'],
            security: bearer,
            params: Type.Object({ id: IdParam }),
            body: Type.Object({ name: PasskeyName }),
            response: { 200: PasskeyRef, ...problems(400, 401, 404, 413, 415) },
          },
        },
        async (request) =>
          passkeyJson(await credentials.rename(who(request), request.params.id, request.body.name)),
      )

      authed.delete(
        '/api/auth/webauthn/credentials/:id',
        {
          schema: {
            tags: ['passkeys'],
            security: bearer,
            params: Type.Object({ id: IdParam }),
            response: { 204: Type.Null(), ...problems(401, 403, 404) },
          },
        },
        async (request, reply) => {
          await credentials.remove(who(request), request.params.id, contextOf(request))
          return reply.code(204).send(null)
        },
      )
    })
  }
}
