/** The slice of a pino logger the notifiers use; serve.ts hands in Fastify's. */
export interface NotifyLogger {
  info(obj: Record<string, unknown>, msg: string): void
  warn(obj: Record<string, unknown>, msg: string): void
  /** Optional so that a logger without it still fits; errors then go to warn. */
  error?(obj: Record<string, unknown>, msg: string): void
}

/** One JSON line per message on stderr, for the CLI and anything built without an app logger. */
export const stderrLogger: NotifyLogger = {
  info: (obj, msg) => process.stderr.write(`${JSON.stringify({ level: 'info', ...obj, msg })}\n`),
  warn: (obj, msg) => process.stderr.write(`${JSON.stringify({ level: 'warn', ...obj, msg })}\n`),
  error: (obj, msg) => process.stderr.write(`${JSON.stringify({ level: 'error', ...obj, msg })}\n`),
}
