import type { FastifyInstance, FastifyRequest } from 'fastify'

/**
 * An empty body labelled `application/json` is no JSON at all (`malformed_request`), except on
 * a route whose body has no required member, where it stands for `{}`: many HTTP clients send
 * the header on every POST, and a bodiless `logout-all` or `2fa/totp/setup` invites exactly
 * that. Everything else goes to Fastify's own parser, with its prototype-poisoning guards.
 */
export function acceptEmptyJsonWhereNothingIsRequired(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('remove', 'remove')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    // parseAs 'string' hands over a string; the type also allows a Buffer for 'buffer'.
    const text = typeof body === 'string' ? body : body.toString('utf8')
    if (text === '' && requiresNothing(request)) done(null, {})
    // Fastify's parser answers through `done`; its type also allows the promise style.
    else void parseJson(request, text, done)
  })
}

function requiresNothing(request: FastifyRequest): boolean {
  const schema = request.routeOptions.schema?.body as { required?: unknown } | undefined
  return schema === undefined || !Array.isArray(schema.required) || schema.required.length === 0
}
