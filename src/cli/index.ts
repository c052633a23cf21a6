import { resolve } from 'node:path'
import {
  ConfigError,
  loadConfig,
  loadDotEnv,
  loadDevSecretKey,
  loadOrCreateDevSecretKey,
} from '../config/index.js'
import { GatehouseError } from '../services/errors.js'
import { serve } from '../serve.js'
import { MissingSecretKeys } from '../services/secrets/sealed-keys.js'
import { asksForHelp } from './args.js'
import { CliError, createServicesOnce, type Command } from './context.js'
import { keysRotate, secretsRotate } from './commands/keys.js'
import { migrate } from './commands/migrate.js'
import { apikeyCreate, apikeyList, apikeyRevoke } from './commands/apikey.js'
import { auditExport, auditTail, auditVerify } from './commands/audit.js'
import { clientCreate, clientDelete, clientList } from './commands/client.js'
import { userCreate, userList, userTotp } from './commands/user.js'
import { userDelete, userRoles } from './commands/user-admin.js'
import { userImport } from './commands/user-import.js'
import { userLock, userUnlock } from './commands/user-lock.js'

const commands: Command[] = [
  migrate,
  userCreate,
  userList,
  userTotp,
  userLock,
  userUnlock,
  userDelete,
  userRoles,
  userImport,
  apikeyCreate,
  apikeyList,
  apikeyRevoke,
  keysRotate,
  secretsRotate,
  auditTail,
  auditVerify,
  auditExport,
  clientCreate,
  clientList,
  clientDelete,
]

const SERVE_USAGE = 'serve                        run the HTTP service'

function help(): string {
  return [
    'usage: gatehouse <command>',
    '',
    `  ${SERVE_USAGE}`,
    ...commands.map((c) => `  ${c.usage}`),
  ].join('\n')
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/** Finds the command whose words start argv, longest name first ("user create" before "user"). */
function match(argv: string[]): { command: Command; args: string[] } | undefined {
  const byLength = [...commands].sort((a, b) => b.name.split(' ').length - a.name.split(' ').length)
  for (const command of byLength) {
    const words = command.name.split(' ')
    if (words.every((w, i) => argv[i] === w)) return { command, args: argv.slice(words.length) }
  }
  return undefined
}

async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === 'help') {
    console.log(help())
    return argv.length === 0 ? 1 : 0
  }
  if (argv[0] === 'serve') {
    const extra = argv.slice(1)
    if (asksForHelp(extra)) {
      console.log(`usage: gatehouse ${SERVE_USAGE}`)
      return 0
    }
    // Like every other command: an option it does not know is an error, not something to
    // start a server beside.
    if (extra.length > 0)
      throw new CliError(`serve: unexpected argument "${extra[0]}"; usage: gatehouse serve`)
    await serve()
    return 0
  }
  const found = match(argv)
  if (!found) {
    // `gatehouse user` names a group of commands, not an unknown one.
    const group = [...commands].filter(
      (c) => c.name.split(' ')[0] === argv[0] && c.name.includes(' '),
    )
    if (argv.length === 1 && group.length > 0) {
      const subcommands = group.map((c) => c.name.split(' ')[1]).join(', ')
      throw new CliError(`"${argv[0]}" needs a subcommand: ${subcommands}; run gatehouse --help`)
    }
    throw new CliError(`unknown command "${argv.join(' ')}"; run gatehouse --help`)
  }
  if (asksForHelp(found.args)) {
    console.log(`usage: gatehouse ${found.command.usage}`)
    return 0
  }
  // Arguments are refused before anything is read or opened.
  found.command.checkArgs(found.args)
  loadDotEnv()
  const keyPath = resolve('data', 'secret.key')
  const config = loadConfig(process.env, {
    devSecretKey: () =>
      found.command.createsDatabase ? loadOrCreateDevSecretKey(keyPath) : loadDevSecretKey(keyPath),
  })
  const out = (line: string) => console.log(line)
  // Standard output carries only what the command produces (NDJSON, keys, tables), so it can
  // be piped or redirected; where the command acts is said on standard error.
  const note = (line: string) => console.error(line)
  const services = createServicesOnce(config, found.command, note)
  try {
    const code = await found.command.run({
      args: found.args,
      out,
      readStdin,
      services: services.get,
      appliedMigrations: services.applied,
      config,
    })
    return code ?? 0
  } finally {
    await services.close()
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    // One clear line, never a stack: the message is ours, or the library's first line.
    const message =
      err instanceof ConfigError ||
      err instanceof CliError ||
      err instanceof GatehouseError ||
      err instanceof MissingSecretKeys
        ? err.message
        : err instanceof Error
          ? (err.message.split('\n')[0] ?? 'failed')
          : 'failed'
    console.error(`gatehouse: ${message}`)
    process.exitCode = 1
  },
)
