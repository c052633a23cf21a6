import { setTimeout as delay } from 'node:timers/promises'
import { defineCommand } from '../args.js'
import { parseInstant } from '../../services/audit/instant.js'

const POLL_MS = 1_000

export const auditTail = defineCommand({
  name: 'audit tail',
  usage:
    'audit tail [--limit N] [--no-follow]\n' +
    '                             print the newest audit events, then follow new ones',
  readOnly: true,
  options: {
    limit: { type: 'string', default: '20' },
    'no-follow': { type: 'boolean', default: false },
  },
  async run(ctx, { values, refuse }) {
    const limit = Number(values.limit)
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
      throw refuse('--limit must be a whole number from 1 to 10000')
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
})

export const auditVerify = defineCommand({
  name: 'audit verify',
  usage:
    'audit verify                 check the audit hash chain: "ok: N events", or the first broken row (exit 1)',
  async run(ctx) {
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
})

export const auditExport = defineCommand({
  name: 'audit export',
  usage: 'audit export [--since T]     write the sealed audit events as NDJSON with their hashes',
  options: { since: { type: 'string' } },
  async run(ctx, { values, refuse }) {
    const since = values.since === undefined ? undefined : parseInstant(values.since)
    if (values.since !== undefined && since === undefined)
      throw refuse(
        '--since must be a time such as 2026-01-01T00:00:00Z or a date such as 2026-01-01',
      )
    for await (const record of (await ctx.services()).auditChain.export(since))
      ctx.out(JSON.stringify(record))
  },
})
