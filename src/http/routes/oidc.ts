import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { Services } from '../../container.js'
import type { OidcGrantView } from '../../services/oidc/interactions.js'
import { OIDC_ROUTES } from '../../services/oidc/endpoints.js'
import { OIDC_MOUNT } from '../../services/oidc/provider.js'
import { JWKS_CACHE_CONTROL } from '../../services/tokens/key-ring.js'
import { principalOf, requireBearer } from '../auth.js'
import { contextOf } from '../context.js'
import { loggable } from '../../services/ports.js'
import { servesDataOnly } from '../security-headers.js'
import { problems } from '../schemas/common.js'
import type { App } from './types.js'

const bearer = [{ bearerAuth: [] }]
const UidParams = Type.Object({ uid: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }) })
const ClientIdParams = Type.Object({
  client_id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
})
const Redirect = Type.Object({ redirect_to: Type.String() })
/** Login and restart take nothing but the caller's token; the body is still an object (SPEC §3). */
const NoFields = Type.Object({})

/**
 * The OpenID provider (SPEC §4.12), mounted under /oidc. The provider is a Koa app that parses
 * its own request bodies (forms): this context only reads them, so that Gatehouse's limit is
 * the one that holds, and hands the raw request over.
 */
export function oidcProviderRoutes(services: Services) {
  return async (app: App) => {
    const { oidc, keyRing } = services
    /*
     * The library reads a body itself only up to 56 KiB and answers anything longer with its
     * 400 invalid_request, where SPEC §3 makes a body over 64 KiB a 413 payload_too_large
     * problem and accepts the rest. So Fastify reads every body here under the app's
     * bodyLimit (with or without a Content-Length) and the bytes are handed over as
     * `req.body`, which the library parses as it parses the stream, as UTF-8 (its documented
     * path for an upstream body parser, noted once on stderr as not recommended).
     */
    app.removeAllContentTypeParsers()
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))

    async function handOver(
      request: FastifyRequest,
      reply: FastifyReply,
      path: string,
      method?: 'GET',
    ) {
      reply.hijack()
      // hijack() skips Fastify's send, which writes what the hooks set: a JSON-only path
      // (discovery) takes its security headers onto the raw response here. The provider's
      // HTML pages keep their own (our page policy would block their inline form scripts).
      if (servesDataOnly(request.url)) {
        for (const [name, value] of Object.entries(reply.getHeaders()))
          if (value !== undefined) reply.raw.setHeader(name, value)
      }
      if (Buffer.isBuffer(request.body)) Object.assign(request.raw, { body: request.body })
      try {
        await oidc.handle(request.raw, reply.raw, path, request.ip, method)
      } catch (err) {
        request.log.error({ err: loggable(err) }, 'the OpenID provider failed')
        if (!reply.raw.headersSent) {
          reply.raw.writeHead(503, { 'content-type': 'application/problem+json' })
          reply.raw.end(
            JSON.stringify({
              type: 'about:blank',
              title: 'Service unavailable',
              status: 503,
              detail: 'the sign-in service is unavailable; try again shortly',
              code: 'unavailable',
            }),
          )
        }
      }
    }

    // Issuer is PUBLIC_URL, so discovery lives at the root (OIDC Discovery §4).
    app.get('/.well-known/openid-configuration', { schema: { tags: ['oidc'] } }, (request, reply) =>
      handOver(request, reply, request.url),
    )
    // The provider's JWKS is the one key ring Gatehouse publishes (SPEC §4.3).
    app.get(`${OIDC_MOUNT}/jwks`, { schema: { hide: true } }, async (_request, reply) => {
      reply.header('cache-control', JWKS_CACHE_CONTROL)
      return keyRing.jwks()
    })
    // The provider's own routes, and no others: the rest is the 404/405 problem of SPEC §3.
    for (const route of OIDC_ROUTES) {
      app.route({
        method: [...route.methods],
        url: `${OIDC_MOUNT}${route.path}`,
        schema: { hide: true },
        handler: (request, reply) => handOver(request, reply, request.url.slice(OIDC_MOUNT.length)),
      })
    }

    /*
     * OIDC Core §3.1.2.1: the authorization endpoint MUST take POST as well as GET, its
     * parameters form-serialized in the body. oidc-provider 9 serves that POST only with
     * `enableHttpPostMethods`, which insists on SameSite=None for its session cookie (so that
     * a cross-site form post carries it); browsers drop such cookies unless they are Secure,
     * which a plain-http PUBLIC_URL cannot set, and None would send the session on every
     * cross-site request. So the form is read here and handed over as the very same request
     * made with GET: same checks, same answers. A cross-site POST carries no Lax cookie, so
     * it starts as in a fresh browser (the person signed in to Gatehouse still goes straight
     * through the interaction; prompt=none from another site answers login_required).
     */
    await app.register(async (form: App) => {
      form.removeAllContentTypeParsers()
      form.addContentTypeParser(
        'application/x-www-form-urlencoded',
        { parseAs: 'string' },
        (_request, body, done) => done(null, body),
      )
      form.post(`${OIDC_MOUNT}/auth`, { schema: { hide: true } }, (request, reply) => {
        // Re-serialized, so the query holds exactly the body's parameters, repeated ones too
        // (the provider refuses those), and nothing of the URL's own query.
        const params = new URLSearchParams(typeof request.body === 'string' ? request.body : '')
        const query = params.toString()
        return handOver(request, reply, query === '' ? '/auth' : `/auth?${query}`, 'GET')
      })
    })
  }
}

const grantJson = (g: OidcGrantView) => ({
  client_id: g.clientId,
  name: g.name,
  scopes: g.scopes,
  created_at: g.createdAt.toISOString(),
  updated_at: g.updatedAt.toISOString(),
})

/** What the web UI calls to run login and consent, and to manage remembered consents. */
export function oidcInteractionRoutes(services: Services) {
  return async (app: App) => {
    const { oidcInteractions, sessions } = services
    const tags = ['oidc']
    const noStore = (reply: FastifyReply) => reply.header('cache-control', 'no-store')

    app.get(
      '/api/oidc/interaction/:uid',
      {
        schema: {
          tags,
          params: UidParams,
          response: {
            200: Type.Object({
              client: Type.Object({ client_id: Type.String(), name: Type.String() }),
              scopes: Type.Array(Type.String()),
              prompt: Type.Object({
                name: Type.String(),
                reasons: Type.Array(Type.String()),
                details: Type.Object({}, { additionalProperties: true }),
              }),
            }),
            ...problems(400, 404),
          },
        },
      },
      async (request, reply) => {
        const view = await oidcInteractions.details(request.raw, reply.raw, request.params.uid)
        noStore(reply)
        return {
          client: { client_id: view.client.clientId, name: view.client.name },
          scopes: view.scopes,
          prompt: view.prompt,
        }
      },
    )

    await app.register(async (authed: App) => {
      authed.addHook('preValidation', requireBearer(sessions))

      authed.post(
        '/api/oidc/interaction/:uid/login',
        {
          schema: {
            tags,
            security: bearer,
            params: UidParams,
            body: NoFields,
            response: { 200: Redirect, ...problems(400, 401, 403, 404, 409, 413, 415) },
          },
        },
        async (request, reply) => {
          const to = await oidcInteractions.login(
            request.raw,
            reply.raw,
            request.params.uid,
            principalOf(request),
          )
          noStore(reply)
          return { redirect_to: to }
        },
      )

      authed.post(
        '/api/oidc/interaction/:uid/restart',
        {
          schema: {
            tags,
            security: bearer,
            params: UidParams,
            body: NoFields,
            response: { 204: Type.Null(), ...problems(400, 401, 403, 404, 413, 415) },
          },
        },
        async (request, reply) => {
          await oidcInteractions.restart(
            request.raw,
            reply.raw,
            request.params.uid,
            principalOf(request),
          )
          noStore(reply)
          return reply.code(204).send(null)
        },
      )

      authed.post(
        '/api/oidc/interaction/:uid/consent',
        {
          schema: {
            tags,
            security: bearer,
            params: UidParams,
            body: Type.Object({ allow: Type.Boolean() }),
            response: { 200: Redirect, ...problems(400, 401, 403, 404, 409, 413, 415) },
          },
        },
        async (request, reply) => {
          const to = await oidcInteractions.consent(
            request.raw,
            reply.raw,
            request.params.uid,
            principalOf(request),
            request.body.allow,
          )
          noStore(reply)
          return { redirect_to: to }
        },
      )

      const GrantSchema = Type.Object({
        client_id: Type.String(),
        name: Type.String(),
        scopes: Type.Array(Type.String()),
        created_at: Type.String({ format: 'date-time' }),
        updated_at: Type.String({ format: 'date-time' }),
      })

      authed.get(
        '/api/auth/oidc-grants',
        {
          schema: {
            tags,
            security: bearer,
            response: {
              200: Type.Object({ items: Type.Array(GrantSchema), next_cursor: Type.Null() }),
              ...problems(401),
            },
          },
        },
        async (request) => {
          const grants = await oidcInteractions.listGrants(principalOf(request).sub)
          return { items: grants.map(grantJson), next_cursor: null }
        },
      )

      authed.delete(
        '/api/auth/oidc-grants',
        { schema: { tags, security: bearer, response: { 204: Type.Null(), ...problems(401) } } },
        async (request, reply) => {
          await oidcInteractions.revokeGrants(principalOf(request).sub, {
            context: contextOf(request),
          })
          return reply.code(204).send(null)
        },
      )

      authed.delete(
        '/api/auth/oidc-grants/:client_id',
        {
          schema: {
            tags,
            security: bearer,
            params: ClientIdParams,
            response: { 204: Type.Null(), ...problems(400, 401, 404) },
          },
        },
        async (request, reply) => {
          await oidcInteractions.revokeGrants(principalOf(request).sub, {
            clientId: request.params.client_id,
            context: contextOf(request),
          })
          return reply.code(204).send(null)
        },
      )
    })
  }
}
