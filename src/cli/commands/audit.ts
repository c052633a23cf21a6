import { setTimeout as delay } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { CliError, type Command } from '../context.js'

const POLL_MS = 1_000

export const auditTail: Command = {
  name: 'audit tail',
  usage:
    'audit tail [--limit N] [--no-follow]\n' +
    '                             print the newest audit events, then follow new ones',
  readOnly: true,
  async run(ctx) {
    const { values, positionals } = parseArgs({
      args: ctx.args,
      allowPositionals: true,
      options: {
        limit: { type: 'string', default: '20' },
        'no-follow': { type: 'boolean', default: false },
      },
    })
    const limit = Number(values.limit)
    if (positionals.length > 0 || !Number.isInteger(limit) || limit < 1 || limit > 10_000)
      throw new CliError('usage: gatehouse audit tail [--limit N (1-10000)] [--no-follow]')
    const tail = (await ctx.services()).auditTail

    let lastId = 0
    for (const line of await tail.newest(limit)) {
      ctx.out(line.text)
      lastId = line.id
    }
    if (values['no-follow']) return

    // Polling, not LISTEN/NOTIFY: it works the same on all three databases, and the CLI
    // may run where the server's Redis is not reachable.
    const stop = new AbortController()
    const onSignal = () => stop.abort()
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    try {
      while (!stop.signal.aborted) {
        for (const line of await tail.after(lastId)) {
          ctx.out(line.text)
          lastId = line.id
        }
        await delay(POLL_MS, undefined, { signal: stop.signal }).catch(() => undefined)
      }
    } finally {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
  },
}

export const auditVerify: Command = {
  name: 'audit verify',
  usage:
    'audit verify                 check the audit hash chain: "ok: N events", or the first broken row (exit 1)',
  async run(ctx) {
    if (ctx.args.length > 0) throw new CliError('usage: gatehouse audit verify')
    const verdict = await (await ctx.services()).auditChain.verify()
    if (verdict.ok) {
      ctx.out(`ok: ${verdict.events} events`)
      return 0
    }
    ctx.out(
      `broken: event ${verdict.brokenId} (${verdict.reason}); ${verdict.events} events before it verify`,
    )
    return 1
  },
}

export const auditExport: Command = {
  name: 'audit export',
  usage: 'audit export [--since T]     write the sealed audit events as NDJSON with their hashes',
  async run(ctx) {
    const { values, positionals } = parseArgs({
      args: ctx.args,
      allowPositionals: true,
      options: { since: { type: 'string' } },
    })
    const since = values.since === undefined ? undefined : new Date(values.since)
    if (positionals.length > 0 || (since !== undefined && Number.isNaN(since.getTime())))
      throw new CliError('usage: gatehouse audit export [--since 2026-01-01T00:00:00Z]')
    for await (const record of (await ctx.services()).auditChain.export(since))
      ctx.out(JSON.stringify(record))
  },
}
