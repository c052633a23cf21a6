import type { FastifyInstance, FastifyRequest } from 'fastify'
import { GatehouseError } from '../services/errors.js'
import { isWebClient } from './web-client.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The route reads a web client's credentials from its cookie (SPEC §7), so for a request
     * with `X-Gatehouse-Client: web` an empty body stands for `{}` even though the route's
     * schema requires a member that the cookie supplies.
     */
    cookieStandsForBody?: boolean
  }
}

/**
 * An empty body labelled `application/json` is no JSON at all (`malformed_request`), except on
 * a route whose body has no required member, where it stands for `{}`: many HTTP clients send
 * the header on every POST, and a bodiless `logout-all` or `2fa/totp/setup` invites exactly
 * that. Everything else goes to Fastify's own parser, with its prototype-poisoning guards.
 */
export function acceptEmptyJsonWhereNothingIsRequired(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('remove', 'remove')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const text = utf8(body)
    if (text === undefined) done(notUtf8(), undefined)
    else if (text === '' && (requiresNothing(request) || cookieStandsForBody(request)))
      done(null, {})
    // Fastify's parser answers through `done`; its type also allows the promise style.
    else void parseJson(request, text, done)
  })
}

// Fatal: Node's own decoding turns each invalid byte into U+FFFD, so a name with one stored
// changed, and two different subjects became one. JSON is UTF-8 (RFC 8259 §8.1). The BOM is
// kept, for the JSON parser to refuse as before.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** The body as text, or undefined when its bytes are not UTF-8. */
function utf8(body: string | Buffer): string | undefined {
  // parseAs 'buffer' hands over a Buffer; the type also allows the string of parseAs 'string'.
  if (typeof body === 'string') return body
  try {
    return strictUtf8.decode(body)
  } catch {
    return undefined
  }
}

const notUtf8 = () =>
  new GatehouseError('malformed_request', { detail: 'the request body is not valid UTF-8' })

/**
 * A browser's `fetch(url, { method: 'POST', credentials })` sends no body; on a cookie-mode
 * route that is the web client's `{}`. Without the header nothing changes: the cookie is never
 * read, and the missing member stays the error it was.
 */
export function cookieStandsForBody(request: FastifyRequest): boolean {
  return request.routeOptions.config.cookieStandsForBody === true && isWebClient(request)
}

function requiresNothing(request: FastifyRequest): boolean {
  const schema = request.routeOptions.schema?.body as { required?: unknown } | undefined
  return schema === undefined || !Array.isArray(schema.required) || schema.required.length === 0
}
