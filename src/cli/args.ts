import { parseArgs, type ParseArgsConfig } from 'node:util'
import { CliError, type CliContext, type Command } from './context.js'

export type OptionsConfig = NonNullable<ParseArgsConfig['options']>

/** A positional argument; `what` names it in the "is required" line ("a username"). */
export interface Positional {
  what: string
  /** Takes every remaining argument (at least one). */
  many?: boolean
}

export interface ArgsSpec<O extends OptionsConfig> {
  positionals?: readonly Positional[]
  options?: O
}

export type ParsedArgs<O extends OptionsConfig> = {
  values: ReturnType<
    typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>
  >['values']
  /** At least as many as the spec requires (`positionals[0]!` is safe when one is required). */
  positionals: string[]
  /** The one-line error for arguments the command cannot use: `throw refuse('--limit …')`. */
  refuse: (problem: string) => CliError
}

/** `--help` or `-h` before a `--`: the caller prints the command's usage instead of running it. */
export function asksForHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--')
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h')
}

/** parseArgs' own messages run to several sentences and name no command: one line instead. */
function describeParseError(err: Error & { code: unknown }): string {
  const option = /'(-[^' ]*)/.exec(err.message)?.[1]
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      // Ids are base64url, so some start with "-" and read as short options: say how to pass one.
      return option !== undefined && !option.startsWith('--')
        ? `unknown option ${option} (put -- before a name or id that starts with -)`
        : `unknown option ${option ?? err.message}`
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (err.message.includes('does not take an argument')) return `${option} takes no value`
      return err.message.includes('ambiguous')
        ? `${option} needs a value; write ${option}=VALUE for one that starts with -`
        : `${option} needs a value`
    default:
      return err.message.split(/\.\s|\n/)[0] ?? 'bad arguments'
  }
}

/**
 * Parses a command's arguments strictly: an unknown option, an option without its value, a
 * positional argument too many or one missing is refused with one line naming the command,
 * before the command touches the database (`keys rotate extra` once rotated the keys).
 */
export function parseCommandArgs<O extends OptionsConfig>(
  command: Pick<Command, 'name' | 'usage'>,
  spec: ArgsSpec<O>,
  argv: string[],
): ParsedArgs<O> {
  // The synopsis: the usage's first line without its description column.
  const synopsis = command.usage.split('\n')[0]!.split(/ {2,}/)[0]!
  const refuse = (problem: string) =>
    new CliError(`${command.name}: ${problem}; usage: gatehouse ${synopsis}`)
  let parsed: { values: unknown; positionals: string[] }
  try {
    parsed = parseArgs({
      args: argv,
      options: spec.options ?? {},
      allowPositionals: true,
      strict: true,
    })
  } catch (err) {
    if (err instanceof Error && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))
      throw refuse(describeParseError(err))
    throw err
  }
  const expected = spec.positionals ?? []
  const takesRest = expected.at(-1)?.many === true
  const missing = expected[parsed.positionals.length]
  if (missing) throw refuse(`${missing.what} is required`)
  if (!takesRest && parsed.positionals.length > expected.length)
    throw refuse(`unexpected argument ${JSON.stringify(parsed.positionals[expected.length])}`)
  return { ...(parsed as Omit<ParsedArgs<O>, 'refuse'>), refuse }
}

/**
 * A command whose arguments are parsed by `parseCommandArgs` before `run` sees them, so no
 * command can forget to refuse what it does not take.
 */
export function defineCommand<const O extends OptionsConfig = Record<never, never>>(
  def: Omit<Command, 'run' | 'checkArgs'> &
    ArgsSpec<O> & {
      run(ctx: CliContext, args: ParsedArgs<O>): Promise<number | void>
    },
): Command {
  const { positionals, options, ...command } = def
  const spec: ArgsSpec<O> = { positionals, options }
  return {
    ...command,
    checkArgs: (argv) => void parseCommandArgs(def, spec, argv),
    run: (ctx) => def.run(ctx, parseCommandArgs(def, spec, ctx.args)),
  }
}
