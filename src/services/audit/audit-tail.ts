import type { Db } from '../../store/db.js'
import {
  auditEventsAfter,
  newestAuditEvents,
  type AuditEventRow,
} from '../../store/repositories/audit-tail.js'

export interface AuditLine {
  id: number
  text: string
}

// One event, one line, whatever the client typed: values with spaces, quotes or anything
// unusual are written as JSON strings (control characters were stripped on the way in).
const PLAIN = /^[\w.:@/+-]+$/
const field = (value: string | null) =>
  value === null ? '-' : PLAIN.test(value) ? value : JSON.stringify(value)

/** `time event outcome user=… username=… ip=… ua=… actor=… {details}` */
export function formatAuditEvent(row: AuditEventRow): string {
  return [
    new Date(Number(row.time)).toISOString(),
    row.event,
    row.outcome,
    `user=${field(row.user_id)}`,
    `username=${field(row.username)}`,
    `ip=${field(row.ip)}`,
    `ua=${field(row.user_agent)}`,
    `actor=${field(row.actor_id)}`,
    row.details ?? '{}',
  ].join(' ')
}

const toLine = (row: AuditEventRow): AuditLine => ({
  id: Number(row.id),
  text: formatAuditEvent(row),
})

export type AuditTail = ReturnType<typeof createAuditTail>

/** Reading the audit log as a stream of lines, for `gatehouse audit tail`. */
export function createAuditTail(deps: { db: Db }) {
  return {
    async newest(limit: number): Promise<AuditLine[]> {
      return (await newestAuditEvents(deps.db, limit)).map(toLine)
    },
    async after(id: number, limit = 500): Promise<AuditLine[]> {
      return (await auditEventsAfter(deps.db, id, limit)).map(toLine)
    },
  }
}
