/**
 * A configuration problem, reported as one line that names the variable and the rule, e.g.
 * `ACCESS_TOKEN_TTL: must be a duration such as 600s, 10m, 1h or 30d (got "ten")`, or what
 * start-up could not do with its value (`HOST: cannot resolve …`, `DATABASE_URL: cannot connect`).
 * main.ts prints the message and exits, so it must never contain a secret.
 */
export class ConfigError extends Error {
  readonly variable: string

  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`)
    this.name = 'ConfigError'
    this.variable = variable
  }
}

/**
 * Thrown by the small parsers. The loader turns it into a ConfigError using the variable's
 * own rule sentence, so the parser's message only matters when a parser is used on its own.
 * `got` replaces the echoed raw value where echoing it would leak a secret ("16 bytes").
 */
export class InvalidValue extends Error {
  readonly got: string | undefined

  constructor(message: string, got?: string) {
    super(message)
    this.name = 'InvalidValue'
    this.got = got
  }
}
