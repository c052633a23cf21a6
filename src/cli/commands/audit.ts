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
