import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'

/**
 * SPEC §4.3, RFC 6749 §5.1: a response carrying a token, a secret or codes must never be
 * kept by a browser or a proxy cache. A route-level `onRequest` hook, so the header is
 * there whatever the handler answers.
 */
export function noStore(
  _request: FastifyRequest,
  reply: FastifyReply,
  done: HookHandlerDoneFunction,
): void {
  void reply.header('cache-control', 'no-store')
  done()
}
