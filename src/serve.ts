import { rmSync } from 'node:fs'
import { resolve } from 'node:path'
import type { FastifyBaseLogger } from 'fastify'
import { buildApp } from './app.js'
import { ConfigError, loadConfig, loadDotEnv, loadOrCreateDevSecretKey } from './config/index.js'
import { createContainer } from './container.js'
import { MissingSecretKeys } from './services/secrets/sealed-keys.js'
import { checkDatabaseReachable, describeDatabaseUrl } from './store/db.js'
import { migrateToLatest } from './store/migrate.js'

const DEFAULT_PORT = 3000

type FlushingLogger = { flush(done: (err?: Error) => void): void }

/** The server's reader of process.env (the CLI's is cli/index.ts): configuration in, a listening server out. */
export async function serve(): Promise<void> {
  loadDotEnv()
  const config = loadConfig(process.env, {
    devSecretKey: () => loadOrCreateDevSecretKey(resolve('data', 'secret.key')),
  })
  // The container is built before the app, so its notifiers log through a late-bound forwarder.
  // Fastify's logger is pino's, whose flush its type leaves out.
  const late: { log?: FastifyBaseLogger & Partial<FlushingLogger> } = {}
  const services = createContainer(config, {
    logger: {
      info: (obj, msg) => late.log?.info(obj, msg),
      warn: (obj, msg) => late.log?.warn(obj, msg),
      error: (obj, msg) => late.log?.error(obj, msg),
      flush: (done) => (late.log?.flush ? late.log.flush(done) : done()),
    },
  })
  // A message written to the log instead of sent (no SMTP_URL, SMS_PROVIDER=log) must be in
  // it when the request that sent it is answered: a developer, and the README's walk, read
  // the code right after. pino's own stream writes on libuv's pool, behind password hashes,
  // and its flush does not wait for a write under way (minLength 0), so the code was
  // sometimes not there yet on a busy machine. process.stdout writes synchronously on Linux
  // (to a file, a pipe or a terminal); with real delivery, the faster default stays.
  const messagesToLog = config.mail.smtpUrl === undefined || config.sms.provider === 'log'
  const app = await buildApp(services, {
    logger: {
      level: config.logLevel,
      redact: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-api-key"]'],
      ...(messagesToLog ? { stream: process.stdout } : {}),
    },
  })
  late.log = app.log
  // The default PUBLIC_URL names port 3000: on another port, tokens' iss, email links and the
  // passkey origin would point where nothing answers, and OIDC clients refuse the issuer.
  if (!process.env.PUBLIC_URL?.trim() && config.http.port !== DEFAULT_PORT) {
    app.log.warn(
      `PUBLIC_URL is not set, so it is ${config.http.publicUrl} while Gatehouse listens on port ` +
        `${config.http.port}: set PUBLIC_URL to the address browsers and clients use`,
    )
  }
  if (config.secrets.generated) {
    app.log.warn(
      'GATEHOUSE_SECRET_KEY is not set: generated one into ./data/secret.key (development only)',
    )
  }
  app.log.info(
    { database: describeDatabaseUrl(config.databaseUrl), secretKey: config.secrets.source },
    'starting',
  )
  try {
    await checkDatabaseReachable(services.db, config.databaseUrl)
    const applied = await migrateToLatest(services.db)
    if (applied.length > 0) app.log.info({ migrations: applied }, 'database migrated')
    await services.sealedKeys.assertAllPresent(config.secrets.source)
    // Notices an earlier process left undelivered go out now, and retries from here on.
    services.notifier.kick()
  } catch (err) {
    await app.close()
    await services.close()
    if (err instanceof MissingSecretKeys) {
      // A key this start generated opens nothing already sealed: left behind, it would make
      // every later start and CLI call report a mismatch instead of the missing setting.
      if (config.secrets.generated) rmSync(config.secrets.source, { force: true })
      throw new ConfigError('GATEHOUSE_SECRET_KEY', err.message)
    }
    throw err
  }

  const shutdown = async () => {
    await app.close()
    await services.close()
  }
  process.once('SIGINT', () => void shutdown())
  process.once('SIGTERM', () => void shutdown())
  try {
    await app.listen({ port: config.http.port, host: config.http.host })
  } catch (err) {
    await shutdown()
    throw listenError(err, config.http)
  }
}

/**
 * A listen failure as one line naming the variable to fix: HOST for a name that does not
 * resolve or an address this machine does not have, PORT for one that is taken or privileged.
 * Anything else is passed on as it is.
 */
function listenError(err: unknown, http: { host: string; port: number }): unknown {
  const code = (err as { code?: unknown } | null)?.code
  const reason = err instanceof Error ? err.message : String(code)
  const host = JSON.stringify(http.host)
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
    case 'EAI_FAIL':
      return new ConfigError('HOST', `cannot resolve ${host} to an address (${reason})`)
    case 'EADDRNOTAVAIL':
      return new ConfigError('HOST', `${host} is not an address of this machine (${reason})`)
    case 'EADDRINUSE':
      return new ConfigError('PORT', `${http.port} is already in use on ${host} (${reason})`)
    case 'EACCES':
      return new ConfigError('PORT', `not allowed to listen on port ${http.port} (${reason})`)
    default:
      return err
  }
}
