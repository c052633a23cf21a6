import type { FastifyReply, FastifyRequest } from 'fastify'
import type { RequestContext } from '../services/audit/audit-log.js'

/**
 * Who is asking, for the audit log and the limits. With the `reply`, also a signal that fires
 * if the client hangs up before it is answered: given to routes that queue for a password
 * hash, whose place in the line is then given to the next one.
 */
export function contextOf(request: FastifyRequest, reply?: FastifyReply): RequestContext {
  const ua = request.headers['user-agent']
  const context: RequestContext = {
    ip: request.ip ?? null,
    userAgent: typeof ua === 'string' ? ua : null,
  }
  if (reply) context.signal = hangUpSignal(reply)
  return context
}

function hangUpSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController()
  const res = reply.raw
  // A response emits 'close' once it has been sent, or when its connection closed first.
  res.once('close', () => {
    if (!res.writableFinished) controller.abort()
  })
  return controller.signal
}
