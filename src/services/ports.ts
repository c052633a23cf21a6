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

/** Where a service reports what only an operator can act on (a mail server refusing mail). */
export interface WarningLog {
  warn(obj: Record<string, unknown>, msg: string): void
}

export const systemClock: Clock = { now: () => new Date() }
