import formBody from '@fastify/formbody'
import { noStore } from '../no-store.js'
import { Type } from 'typebox'
import type { Services } from '../../container.js'
import { trimContact } from '../../services/accounts/contact-rules.js'
import { PASSWORD_MAX_LENGTH } from '../../services/accounts/password-policy.js'
import { GatehouseError } from '../../services/errors.js'
import { bearerToken } from '../auth.js'
import { contextOf } from '../context.js'
import { loggable } from '../../services/ports.js'
import { isWebClient, REFRESH_COOKIE, installWebClientCookies } from '../web-client.js'
import type { LoginResult } from '../../services/login/login-flow.js'
import {
  Channel,
  Code,
  Email,
  OpaqueToken,
  OPAQUE_TOKEN_MAX_LENGTH,
  Password,
  Phone,
  problems,
  TokenResponseRef,
  Username,
  UserRef,
  userJson,
} from '../schemas/common.js'
import { AuthenticationResponseBody, authenticationResponse } from '../schemas/webauthn.js'
import { tokenResponses } from '../token-response.js'
import type { App } from './types.js'
import { BODY_LIMIT_BYTES } from '../body-limit.js'

const missing = (field: string, when: string) =>
  new GatehouseError('validation_error', { detail: `body.${field}: is required ${when}` })

const MfaRequiredSchema = Type.Object({
  mfa_required: Type.Literal(true),
  mfa_token: Type.String(),
  mfa_methods: Type.Array(Type.String()),
  expires_in: Type.Integer(),
})

/** Public account endpoints of SPEC §4.1: register, login (both steps), refresh, logout. */
export function authRoutes(services: Services) {
  return async (app: App) => {
    const { accounts, profiles, sessions, loginFlow, contacts, config } = services
    const tokenResponse = tokenResponses(profiles)

    const web = await installWebClientCookies(app, services)

    const profileOf = async (userId: string) => {
      const profile = await profiles.get(userId)
      if (!profile)
        throw new GatehouseError('invalid_token', { detail: 'the account no longer exists' })
      return profile
    }

    const loginJson = async (result: LoginResult) =>
      result.kind === 'mfa_required'
        ? {
            mfa_required: true as const,
            mfa_token: result.mfaToken,
            mfa_methods: result.methods,
            expires_in: result.expiresIn,
          }
        : tokenResponse(result.tokens)

    // Not in SPEC §4.1: the password rules a registration form can check as the person types
    // (the common-password list stays on the server; its verdict comes back as validation_error).
    app.get(
      '/api/auth/password-policy',
      {
        schema: {
          tags: ['auth'],
          response: {
            200: Type.Object({ min_length: Type.Integer(), max_length: Type.Integer() }),
          },
        },
      },
      async () => ({ min_length: config.passwords.minLength, max_length: PASSWORD_MAX_LENGTH }),
    )

    app.post(
      '/api/auth/register',
      {
        config: { rateLimit: 'register' },
        // The contact rule (contact-rules.ts) trims before the schema checks the address, as
        // accounts.create and user import do: a padded address is the same address everywhere.
        preValidation: async (request) => {
          const body: unknown = request.body
          if (typeof body !== 'object' || body === null || Array.isArray(body)) return
          const fields = body as Record<string, unknown>
          for (const name of ['email', 'phone'])
            if (typeof fields[name] === 'string') fields[name] = trimContact(fields[name])
        },
        schema: {
          tags: ['auth'],
          body: Type.Object({
            username: Type.String({ maxLength: 255 }),
            password: Password,
            email: Type.Optional(Email),
            phone: Type.Optional(Phone),
          }),
          response: {
            201: Type.Object({ user: UserRef }),
            ...problems(400, 409, 413, 415, 429),
          },
        },
      },
      async (request, reply) => {
        const { username, password, email, phone } = request.body
        const context = contextOf(request, reply)
        const userId = await accounts.create({ username, password, email, phone }, { context })
        try {
          await contacts.sendForNewAccount(userId, { email, phone })
        } catch (err) {
          // The account exists either way; verify-contact/send can deliver a new code later.
          request.log.warn({ err: loggable(err) }, 'could not send the verification code')
        }
        return reply.code(201).send({ user: userJson(await profileOf(userId)) })
      },
    )

    // OAuth2 forms post urlencoded bodies; only login and refresh accept them.
    await app.register(async (form: App) => {
      await form.register(formBody, { bodyLimit: BODY_LIMIT_BYTES })
      form.post(
        '/api/auth/login',
        {
          onRequest: noStore,
          schema: {
            tags: ['auth'],
            body: Type.Object({
              username: Username,
              password: Password,
              otp: Type.Optional(Type.String({ maxLength: 64 })),
            }),
            response: {
              200: Type.Union([TokenResponseRef, MfaRequiredSchema]),
              ...problems(400, 401, 403, 413, 415, 429),
            },
          },
        },
        async (request, reply) => {
          const { username, password, otp } = request.body
          const result = await loginFlow.login({
            identifier: username,
            password,
            otp,
            context: contextOf(request, reply),
          })
          return web.tokenReply(
            request,
            reply,
            await loginJson(result),
            result.kind === 'tokens' ? result.tokens.sessionId : undefined,
          )
        },
      )

      // The token endpoint of the RFC 8414 metadata: a JSON body, or the RFC 6749 §6 form
      // `grant_type=refresh_token&refresh_token=…` that OAuth client libraries send.
      form.post(
        '/api/auth/refresh',
        {
          onRequest: noStore,
          schema: {
            tags: ['auth'],
            body: Type.Object({
              refresh_token: OpaqueToken,
              grant_type: Type.Optional(Type.Literal('refresh_token')),
            }),
            response: { 200: TokenResponseRef, ...problems(400, 401, 413, 415, 429) },
          },
          config: { cookieStandsForBody: true },
          // Cookie mode: a web client's `{}` (or no body at all) stands for the refresh token in
          // its cookie. The body is still checked against the schema afterwards, so a
          // non-object stays a validation_error.
          preValidation: async (request, reply) => {
            if (!isWebClient(request)) return
            // No body at all (`fetch` with no `body`): the same `{}`.
            if (request.body === undefined) request.body = {} as typeof request.body
            const body: unknown = request.body
            if (typeof body !== 'object' || body === null || Array.isArray(body)) return
            if ('refresh_token' in body) return
            const token = web.readRefreshToken(request)
            if (token === undefined)
              throw new GatehouseError('unauthorized', {
                detail: `no ${REFRESH_COOKIE} cookie: sign in again`,
              })
            // A cookie no refresh token fits is a dead one, not a mistake in a body the client
            // never sent (the schema would name body.refresh_token).
            if (token.length > OPAQUE_TOKEN_MAX_LENGTH) {
              web.clearRefreshToken(reply)
              throw new GatehouseError('invalid_token', {
                detail: `the ${REFRESH_COOKIE} cookie holds no refresh token: sign in again`,
              })
            }
            ;(body as { refresh_token?: string }).refresh_token = token
          },
        },
        async (request, reply) => {
          try {
            const tokens = await sessions.refresh(request.body.refresh_token, contextOf(request))
            return web.tokenReply(request, reply, await tokenResponse(tokens), tokens.sessionId)
          } catch (err) {
            // A dead cookie is useless to the browser; drop it so the app starts from login.
            if (isWebClient(request)) web.clearRefreshToken(reply)
            throw err
          }
        },
      )
    })

    app.post(
      '/api/auth/login/verify',
      {
        onRequest: noStore,
        config: { rateLimit: 'mfa' },
        schema: {
          tags: ['auth'],
          body: Type.Object(
            {
              mfa_token: OpaqueToken,
              code: Type.Optional(Code),
              method: Type.Optional(
                Type.Union([
                  Type.Literal('totp'),
                  Type.Literal('backup_code'),
                  Type.Literal('email'),
                  Type.Literal('sms'),
                  Type.Literal('webauthn'),
                ]),
              ),
              response: Type.Optional(AuthenticationResponseBody),
            },
            {
              description:
                "`code` for the code methods (default `totp`); `response` (the passkey's answer to login/webauthn/options) for `webauthn`",
            },
          ),
          response: { 200: TokenResponseRef, ...problems(400, 401, 403, 413, 415, 429) },
        },
      },
      async (request, reply) => {
        const { mfa_token: mfaToken, code, method = 'totp', response } = request.body
        const context = contextOf(request)
        let tokens
        if (method === 'webauthn') {
          if (response === undefined) throw missing('response', 'with method "webauthn"')
          tokens = await loginFlow.verifyPasskey({
            mfaToken,
            response: authenticationResponse(response),
            context,
          })
        } else {
          if (code === undefined) throw missing('code', `with method "${method}"`)
          tokens = await loginFlow.verify({ mfaToken, method, code, context })
        }
        return web.tokenReply(request, reply, await tokenResponse(tokens), tokens.sessionId)
      },
    )

    app.post(
      '/api/auth/login/send-code',
      {
        config: { rateLimit: 'send_code' },
        schema: {
          tags: ['auth'],
          body: Type.Object({ mfa_token: OpaqueToken, channel: Channel }),
          response: {
            202: Type.Object({}),
            ...problems(400, 401, 413, 415, 429),
          },
        },
      },
      async (request, reply) => {
        await loginFlow.sendCode({
          mfaToken: request.body.mfa_token,
          channel: request.body.channel,
        })
        return reply.code(202).send({})
      },
    )

    app.post(
      '/api/auth/logout',
      {
        schema: {
          tags: ['auth'],
          body: Type.Object({ refresh_token: Type.Optional(OpaqueToken) }),
          response: { 204: Type.Null(), ...problems(400, 401, 413, 415) },
        },
        // A Bearer-only or cookie-mode logout may come without a body at all. Only a missing
        // body stands for `{}`: a JSON `null` is a body that is not an object (SPEC §3), and
        // must not fall through to the Bearer token and end the session.
        preValidation: async (request) => {
          if (request.body === undefined) request.body = {}
        },
      },
      async (request, reply) => {
        const context = contextOf(request)
        // A web client signing out forgets its cookie whatever happens to the session below.
        if (isWebClient(request)) web.clearRefreshToken(reply)
        const refreshToken = request.body.refresh_token ?? web.readRefreshToken(request)
        if (refreshToken !== undefined) {
          await sessions.endByRefreshToken(refreshToken, context)
        } else {
          const accessToken = bearerToken(request)
          if (!accessToken) {
            throw new GatehouseError('unauthorized', {
              detail: 'send a refresh_token or Authorization: Bearer',
            })
          }
          const claims = await sessions.authenticate(accessToken)
          await sessions.endOne(claims.sub, claims.sid, 'logout', context)
        }
        return reply.code(204).send(null)
      },
    )
  }
}
