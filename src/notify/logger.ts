/** The slice of a pino logger the notifiers use; serve.ts hands in Fastify's. */
export interface NotifyLogger {
  info(obj: Record<string, unknown>, msg: string): void
  warn(obj: Record<string, unknown>, msg: string): void
  /** Optional so that a logger without it still fits; errors then go to warn. */
  error?(obj: Record<string, unknown>, msg: string): void
  /** Calls back once every line logged so far is written (pino writes asynchronously). */
  flush?(done: (err?: Error) => void): void
}

/**
 * Waits until the log holds what was logged. A message written to the log in place of being
 * sent must be there by the time the request that sent it is answered: a developer (and the
 * README's walk) reads the code from the log right after the response. serve.ts logs
 * synchronously whenever messages go to the log; this covers a logger whose writes are
 * asynchronous and whose flush waits for them.
 */
export function logWritten(log: NotifyLogger): Promise<void> {
  return new Promise((done) => (log.flush ? log.flush(() => done()) : done()))
}

/** One JSON line per message on stderr, for the CLI and anything built without an app logger. */
export const stderrLogger: NotifyLogger = {
  info: (obj, msg) => process.stderr.write(`${JSON.stringify({ level: 'info', ...obj, msg })}\n`),
  warn: (obj, msg) => process.stderr.write(`${JSON.stringify({ level: 'warn', ...obj, msg })}\n`),
  error: (obj, msg) => process.stderr.write(`${JSON.stringify({ level: 'error', ...obj, msg })}\n`),
}
