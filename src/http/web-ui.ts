import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, extname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { App } from './routes/types.js'

/**
 * The checkout this module runs from (the folder with package.json): src/http under the test
 * runner, a bundled chunk somewhere in dist/ in production.
 */
function checkoutRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir)
  return dir
}

/** Where `npm run build` puts the Vite build. */
export const defaultWebRoot = join(checkoutRoot(), 'web', 'dist')

// Paths the server owns: a miss under them is the API's 404, never the app's HTML.
const serverRoots = ['/api', '/oidc', '/.well-known', '/docs', '/openapi.json', '/assets']

export interface WebUi {
  /** Answers a GET/HEAD the router did not match with the app's HTML; false if it is not ours. */
  serveAppShell(request: FastifyRequest, reply: FastifyReply): boolean
}

interface Asset {
  body: Buffer
  type: string
  etag: string
}

/** The types of what Vite writes to assets/; anything else goes out as bytes. */
const ASSET_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
}

const etagOf = (body: Buffer) =>
  `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`

/**
 * Every file under assets/, read once. A file server (@fastify/static) opens, stats and reads
 * each file on libuv's thread pool for every request, and under login load argon2 keeps every
 * thread of that pool busy: a page's scripts waited for password hashes to finish. The build
 * is a few hundred kilobytes, fixed until the next start.
 */
function readAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>()
  if (!existsSync(dir)) return assets
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const path = join(entry.parentPath, entry.name)
    const body = readFileSync(path)
    const name = relative(dir, path).split(sep).join('/')
    const type = ASSET_TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream'
    assets.set(name, { body, type, etag: etagOf(body) })
  }
  return assets
}

/** Answers with `body`, or 304 when the client holds this version (`etag`) already. */
function sendVersioned(request: FastifyRequest, reply: FastifyReply, file: Asset) {
  reply.header('etag', file.etag)
  if (request.headers['if-none-match'] === file.etag) return reply.code(304).send()
  return reply.code(200).type(file.type).send(file.body)
}

/**
 * Serves the single-page app of SPEC §7: hashed files under /assets/ cached for a year (their
 * names change with their content), and index.html — with `no-cache`, so a deploy is seen at
 * once — for every other page path, so deep links and reloads reach the client-side router.
 * Returns undefined when the app has not been built (the API still runs).
 */
export function installWebUi(app: App, root: string): WebUi | undefined {
  const indexFile = join(root, 'index.html')
  if (!existsSync(indexFile)) return undefined
  const shellBody = readFileSync(indexFile)
  const shell = { body: shellBody, type: 'text/html; charset=utf-8', etag: etagOf(shellBody) }
  const assets = readAssets(join(root, 'assets'))

  // Hidden from /openapi.json: the web app's files are no API, and listing them only when the
  // app is built made the document (and the web app's types generated from it) depend on
  // whether web/dist existed.
  app.get('/assets/*', { schema: { hide: true } }, (request, reply) => {
    const asset = assets.get((request.params as { '*': string })['*'])
    if (!asset) return reply.callNotFound()
    reply.header('cache-control', 'public, max-age=31536000, immutable')
    return sendVersioned(request, reply, asset)
  })

  return {
    serveAppShell(request, reply) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return false
      const path = (request.url.split('?')[0] ?? '/').toLowerCase()
      if (serverRoots.some((root) => path === root || path.startsWith(`${root}/`))) return false
      // A missing file (favicon.ico, a stale chunk) is a plain 404, not a page.
      if (/\.[a-z0-9]+$/.test(path)) return false
      reply.header('cache-control', 'no-cache')
      void sendVersioned(request, reply, shell)
      return true
    },
  }
}
