import FindMyWay, { type HTTPMethod } from 'find-my-way'

/**
 * Fastify answers an unknown method on a known path with 404; SPEC §3 wants 405 and RFC 9110
 * an `Allow` header. Fastify has no public "which methods match this URL" lookup, so we keep
 * a second router with the same routes and ask it.
 */
export function createRouteIndex() {
  const router = FindMyWay()
  const methods: HTTPMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']
  const noop = () => undefined
  return {
    add(method: string | string[], url: string): void {
      for (const m of Array.isArray(method) ? method : [method]) {
        if (methods.includes(m as HTTPMethod) && !router.hasRoute(m as HTTPMethod, url)) {
          router.on(m as HTTPMethod, url, noop)
        }
      }
    },
    allowed(url: string): string[] {
      const path = url.split('?')[0] ?? url
      return methods.filter((m) => router.find(m, path) !== null)
    },
  }
}
