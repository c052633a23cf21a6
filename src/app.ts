import cors from '@fastify/cors'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { registerAjvFormats, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, {
  type FastifyHttpOptions,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify'
import type { Server } from 'node:http'
import Format from 'typebox/format'
import { withoutPassword } from './config/index.js'
import type { Services } from './container.js'
import { isEmailAddress } from './services/accounts/contact-rules.js'
import './http/rate-limit-config.js'
import {
  answerClientError,
  installProblemHandlers,
  refuseConnect,
  sendProblem,
} from './http/problem.js'
import { acceptEmptyJsonWhereNothingIsRequired } from './http/json-body.js'
import { installRateLimits } from './http/rate-limit.js'
import { installStrictLimits } from './http/strict-limit.js'
import { lazySerializers, lazyValidatorCompiler } from './http/lazy-schemas.js'
import { dataHeaders, securityHeaders, servesDataOnly } from './http/security-headers.js'
import { refuseIllFormed } from './http/nul-guard.js'
import { createRouteIndex } from './http/route-index.js'
import { adminRoutes } from './http/routes/admin/index.js'
import { authRoutes } from './http/routes/auth.js'
import { introspectionRoutes } from './http/routes/introspect.js'
import { contactRoutes } from './http/routes/contact.js'
import { meRoutes } from './http/routes/me.js'
import { mfaRoutes } from './http/routes/mfa.js'
import { notMeRoutes } from './http/routes/not-me.js'
import { oidcInteractionRoutes, oidcProviderRoutes } from './http/routes/oidc.js'
import { opsRoutes } from './http/routes/ops.js'
import { passkeyRoutes } from './http/routes/passkeys.js'
import { productRoutes } from './http/routes/products.js'
import { totpServiceRoutes } from './http/routes/totp-service.js'
import { passwordResetRoutes } from './http/routes/password-reset.js'
import type { App } from './http/routes/types.js'
import { wellKnownRoutes } from './http/routes/well-known.js'
import { defaultWebRoot, installWebUi, type WebUi } from './http/web-ui.js'
import { BODY_LIMIT_BYTES } from './http/body-limit.js'
import { componentSchemas } from './http/schemas/components.js'

registerAjvFormats()
// The API's emails follow the one rule that accounts.create and user import apply too.
Format.Set('email', isEmailAddress)

/** TRUST_PROXY as Fastify takes it; a hop count becomes proxy-addr's "trust the first n hops". */
function trustProxyOption(
  value: boolean | number | readonly string[],
): FastifyServerOptions['trustProxy'] {
  if (typeof value === 'number') return (_address: string, hop: number) => hop < value
  return typeof value === 'boolean' ? value : [...value]
}

export interface AppOptions {
  logger?: FastifyServerOptions['logger']
  /** The built web UI (index.html and assets/); defaults to web/dist of this checkout. */
  webRoot?: string
  /** How long a client may take to send a whole request (default REQUEST_TIMEOUT_MS). */
  requestTimeoutMs?: number
}

/**
 * Our requests are at most 64 KiB. Fastify turns Node's limit on receiving one off (0), so a
 * client sending a body a byte at a time kept its connection, and a slot of the server's, for
 * good; now Node answers 408 and closes it. Node enforces the longer of the two limits on the
 * whole request, so the one on headers must not exceed it; and it looks for late requests
 * every 30 s by default, hence a shorter round. (Fastify writes its own `requestTimeout`
 * over the server's after creating it, so the limit is given to both.)
 */
const REQUEST_TIMEOUT_MS = 30_000
const HEADERS_TIMEOUT_MS = 15_000
const TIMEOUT_CHECK_EVERY_MS = 5_000

/**
 * A request as its log lines show it: Fastify's own fields, with the path but not the query.
 * Tokens travel in queries (the "this wasn't me" link's, OIDC's `id_token_hint`, an
 * `access_token` a client puts in the URL), and a log is read by more people than the
 * database.
 */
function requestForLog(request: FastifyRequest) {
  return {
    method: request.method,
    url: request.url.split('?', 1)[0],
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  }
}

function withSafeRequests(logger: AppOptions['logger']): AppOptions['logger'] {
  if (logger === undefined || logger === false) return logger
  const options = logger === true ? {} : logger
  return { ...options, serializers: { ...options.serializers, req: requestForLog } }
}

/** Builds the HTTP app around the services. It never listens: serve.ts does, tests inject. */
export async function buildApp(services: Services, opts: AppOptions = {}): Promise<App> {
  const { config } = services
  const requestTimeout = opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS
  const options: FastifyHttpOptions<Server> = {
    logger: withSafeRequests(opts.logger ?? false),
    bodyLimit: BODY_LIMIT_BYTES,
    requestTimeout,
    http: {
      requestTimeout,
      headersTimeout: Math.min(HEADERS_TIMEOUT_MS, requestTimeout),
      connectionsCheckingInterval: Math.min(TIMEOUT_CHECK_EVERY_MS, requestTimeout),
    },
    trustProxy: trustProxyOption(config.http.trustProxy),
    // Prototype keys are dropped like any other unknown member instead of failing the request.
    onProtoPoisoning: 'remove',
    onConstructorPoisoning: 'remove',
    // Counted in UTF-16 units once decoded: a TOTP-service subject of 255 code points (its
    // schema's limit) can be 510, and must be as reachable by GET and DELETE as by register.
    routerOptions: { maxParamLength: 512 },
    schemaController: lazySerializers,
    // Node's HTTP parser refuses some requests before Fastify sees them (SPEC §3 all the same).
    clientErrorHandler: answerClientError,
    // The router rejects some URLs before any handler runs; they still answer problem+json.
    frameworkErrors: (error, _request, reply) => {
      if (error.code === 'FST_ERR_MAX_PARAM_LENGTH')
        sendProblem(reply, 'not_found', 'no such resource')
      else sendProblem(reply, 'malformed_request', 'the URL is not valid')
    },
  }
  const app = Fastify(options).withTypeProvider<TypeBoxTypeProvider>()
  app.server.on('connect', refuseConnect)
  app.setValidatorCompiler(lazyValidatorCompiler)
  // SPEC §3: JSON in (and forms where a route registers the form parser). Fastify also parses
  // text/plain by default, which turned a text body into a schema failure instead of a 415.
  app.removeContentTypeParser('text/plain')
  acceptEmptyJsonWhereNothingIsRequired(app)

  const routes = createRouteIndex()
  app.addHook('onRoute', (route) => routes.add(route.method, route.url))
  // Filled in last, so the asset routes inherit every hook below (security headers, limits).
  const web: { ui?: WebUi } = {}
  installProblemHandlers(
    app,
    (url) => routes.allowed(url),
    (request, reply) => web.ui?.serveAppShell(request, reply) ?? false,
  )
  installRateLimits(app, services.routeLimits, services.observability.security)
  installStrictLimits(app)
  // Named with its variable and where it points (password masked), so an operator sees at
  // once which setting to check; the service keeps running without Redis (README, Faults).
  const redisAt = `Redis at REDIS_URL=${config.redis.url ? withoutPassword(config.redis.url) : ''}`
  const stopWatchingRedis = services.watchRedis((status) => {
    // Logged on each change only, not on every failed reconnect.
    if (status === 'ok') app.log.info(`${redisAt} is reachable: limits and revocation are shared`)
    else
      app.log.warn(
        `${redisAt} is unreachable: rate limits fall back to this instance, revocation to the database`,
      )
  })
  app.addHook('onClose', async () => stopWatchingRedis())

  app.addHook('preValidation', refuseIllFormed)

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched'
    services.observability.observeRequest(
      request.method,
      route,
      reply.statusCode,
      reply.elapsedTime / 1000,
    )
  })

  const pageHeaders = securityHeaders({
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        styleSrc: ["'self'", "'unsafe-inline'"],
        scriptSrc: ["'self'"],
        connectSrc: ["'self'"],
        frameAncestors: ["'none'"],
        // Upgrading subresources to https would break a plain-http deployment (localhost).
        upgradeInsecureRequests: config.http.publicUrl.startsWith('https:') ? [] : null,
      },
    },
  })
  const apiHeaders = dataHeaders(pageHeaders)
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(servesDataOnly(request.url) ? apiHeaders : pageHeaders)
    done()
  })
  if (config.http.corsOrigins.length > 0) {
    const corsOrigins = new Set(config.http.corsOrigins)
    await app.register(cors, {
      // `false` for any other origin: no CORS header at all (an array option would still send
      // Access-Control-Allow-Credentials and the preflight's allow lists to everyone).
      origin: (origin, callback) =>
        callback(null, origin !== undefined && corsOrigins.has(origin) ? origin : false),
      credentials: true,
      // SPEC §2: every method the API uses. The plugin's default (the CORS-safelisted
      // GET, HEAD, POST) left a browser app on another origin unable to PUT, PATCH or DELETE.
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      // Without these a browser hides from the app when to retry and why a token was refused.
      exposedHeaders: ['Retry-After', 'WWW-Authenticate'],
      maxAge: 600,
      // The plugin's strict mode answers an OPTIONS without Access-Control-Request-Method in
      // text/plain; such a request is no preflight, and the allow lists do it no harm.
      strictPreflight: false,
    })
  }

  for (const schema of componentSchemas) app.addSchema(schema)
  await app.register(swagger, {
    // Shared schemas keep their $id as their name under components.schemas (not def-0).
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json.$id === 'string' ? json.$id : `def-${i}`,
    },
    openapi: {
      openapi: '3.0.3',
      info: {
        title: `${config.appName} API`,
        version: '0.1.0',
        description: 'Gatehouse authentication service',
      },
      servers: [{ url: config.http.publicUrl }],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        },
      },
    },
  })
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())

  await app.register(opsRoutes(services))
  await app.register(wellKnownRoutes(services))
  await app.register(authRoutes(services))
  await app.register(meRoutes(services))
  await app.register(adminRoutes(services))
  await app.register(totpServiceRoutes(services))
  await app.register(productRoutes(services))
  await app.register(introspectionRoutes(services))
  await app.register(contactRoutes(services))
  await app.register(passwordResetRoutes(services))
  await app.register(mfaRoutes(services))
  await app.register(notMeRoutes(services))
  await app.register(oidcProviderRoutes(services))
  await app.register(oidcInteractionRoutes(services))
  await app.register(passkeyRoutes(services))

  web.ui = installWebUi(app, opts.webRoot ?? defaultWebRoot)
  if (!web.ui)
    app.log.warn('the web UI is not built (no web/dist/index.html): serving the API only')
  return app
}
