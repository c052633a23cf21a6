import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
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
const serverRoots = ['/api', '/.well-known', '/docs', '/openapi.json', '/assets']

export interface WebUi {
  /** Answers a GET/HEAD the router did not match with the app's HTML; false if it is not ours. */
  serveAppShell(request: FastifyRequest, reply: FastifyReply): boolean
}

/**
 * Serves the single-page app of SPEC §7: hashed files under /assets/ cached for a year (their
 * names change with their content), and index.html — with `no-cache`, so a deploy is seen at
 * once — for every other page path, so deep links and reloads reach the client-side router.
 * Returns undefined when the app has not been built (the API still runs).
 */
export async function installWebUi(app: App, root: string): Promise<WebUi | undefined> {
  const indexFile = join(root, 'index.html')
  if (!existsSync(indexFile)) return undefined
  // Read once: the shell is small, and a new build means a new start anyway.
  const shell = readFileSync(indexFile)
  const etag = `"${createHash('sha256').update(shell).digest('base64url').slice(0, 27)}"`

  await app.register(async (assets) => {
    await assets.register(fastifyStatic, {
      root: join(root, 'assets'),
      prefix: '/assets/',
      index: false,
      decorateReply: false,
      maxAge: '365d',
      immutable: true,
    })
  })

  return {
    serveAppShell(request, reply) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return false
      const path = (request.url.split('?')[0] ?? '/').toLowerCase()
      if (serverRoots.some((root) => path === root || path.startsWith(`${root}/`))) return false
      // A missing file (favicon.ico, a stale chunk) is a plain 404, not a page.
      if (/\.[a-z0-9]+$/.test(path)) return false
      reply.header('cache-control', 'no-cache').header('etag', etag)
      if (request.headers['if-none-match'] === etag) {
        void reply.code(304).send()
      } else {
        void reply.code(200).type('text/html; charset=utf-8').send(shell)
      }
      return true
    },
  }
}
