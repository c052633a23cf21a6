/** What services need from the outside world, passed in so tests control time and chance. */
export interface Clock {
  now(): Date
}

export interface Random {
  bytes(n: number): Buffer
  /** n decimal digits, uniformly distributed (no modulo bias). */
  digits(n: number): string
}

export interface Mailer {
  /** `html`, when given, is sent as the alternative to `text` (security notifications). */
  send(m: { to: string; subject: string; text: string; html?: string }): Promise<void>
}

export interface SmsSender {
  send(m: { to: string; text: string }): Promise<void>
}

/**
 * Where a service reports what only an operator can act on: a mail server refusing mail, a
 * pass in the background that failed (its error as `{ err: loggable(err) }`).
 */
export interface WarningLog {
  warn(obj: Record<string, unknown>, msg: string): void
}

/**
 * What of an unexpected error goes to the log: its kind, code, message and stack. Not the
 * rest of its own properties: mysql2 attaches the failed statement with its values inlined
 * (`sql`), and pg the offending row (`detail`, `where`), which can hold hashes and secrets.
 */
export function loggable(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { message: String(error) }
  const { code } = error as { code?: unknown }
  return { type: error.name, code, message: error.message, stack: error.stack }
}

export const systemClock: Clock = { now: () => new Date() }
