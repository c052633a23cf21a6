import { Type } from 'typebox'
import type { Services } from '../../../container.js'
import { AUDIT_EVENTS, type AuditEventName } from '../../../services/audit/audit-log.js'
import { parseBound } from '../../../services/audit/instant.js'
import { GatehouseError } from '../../../services/errors.js'
import { problems } from '../../schemas/common.js'
import { DEFAULT_LIMIT, PageQuery, pageSchema } from '../../schemas/lists.js'
import type { App } from '../types.js'
import { adminProblems, adminSecurity } from './common.js'

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) =>
  Type.Union([t, Type.Null()])

// An enum rather than a union of literals: a miss reads "must be equal to one of the allowed
// values" instead of one "must be equal to constant" per event.
const EventName = Type.Unsafe<AuditEventName>({ type: 'string', enum: [...AUDIT_EVENTS] })

const AuditEventSchema = Type.Object({
  id: Type.String(),
  time: Type.String({ format: 'date-time' }),
  event: Type.String(),
  outcome: Type.Union([Type.Literal('success'), Type.Literal('failure')]),
  user_id: Nullable(Type.String()),
  username: Nullable(Type.String()),
  ip: Nullable(Type.String()),
  user_agent: Nullable(Type.String()),
  actor_id: Nullable(Type.String()),
  details: Nullable(Type.Object({}, { additionalProperties: true })),
  hash: Nullable(Type.String({ description: 'SHA-256 audit chain link, hex (SPEC §4.14)' })),
})

/** A bound of the query (parseBound: `until` a date alone reaches to the end of that day). */
function instant(value: string | undefined, field: 'since' | 'until'): Date | undefined {
  if (value === undefined) return undefined
  const date = parseBound(value, field === 'since' ? 'start' : 'end')
  if (date === undefined)
    throw new GatehouseError('validation_error', {
      detail: `querystring.${field}: is not an RFC 3339 time or date`,
    })
  return date
}

const Instant = Type.String({
  maxLength: 40,
  description:
    'RFC 3339 date-time, or a date alone (since: from its start, until: to its end, UTC)',
})

export function adminAuditRoutes(services: Services) {
  return async (app: App) => {
    app.get(
      '/api/admin/audit-log',
      {
        schema: {
          tags: ['admin'],
          security: adminSecurity,
          querystring: Type.Object({
            user: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            // A misspelt event is refused, not answered with an empty page that looks like "none".
            event: Type.Optional(EventName),
            since: Type.Optional(Instant),
            until: Type.Optional(Instant),
            ...PageQuery,
          }),
          response: { 200: pageSchema(AuditEventSchema), ...problems(...adminProblems) },
        },
      },
      async (request) => {
        const q = request.query
        const page = await services.auditReader.query({
          userId: q.user,
          event: q.event,
          since: instant(q.since, 'since'),
          until: instant(q.until, 'until'),
          limit: q.limit ?? DEFAULT_LIMIT,
          cursor: q.cursor,
        })
        return {
          items: page.items.map((e) => ({
            id: e.id,
            time: e.time.toISOString(),
            event: e.event,
            outcome: e.outcome,
            user_id: e.userId,
            username: e.username,
            ip: e.ip,
            user_agent: e.userAgent,
            actor_id: e.actorId,
            details: e.details,
            hash: e.hash,
          })),
          next_cursor: page.nextCursor,
        }
      },
    )
  }
}
