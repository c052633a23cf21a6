import { sha256Hex } from '../../crypto/hashing.js'
import type { Db } from '../../store/db.js'
import { markCompromised, spendNotMeToken } from '../../store/repositories/notifications.js'
import type { ProfileReader } from '../accounts/user-profile.js'
import type { AuditLog, RequestContext } from '../audit/audit-log.js'
import { GatehouseError } from '../errors.js'
import type { Clock } from '../ports.js'
import type { SessionService } from '../sessions/session-service.js'

export type NotMe = ReturnType<typeof createNotMe>

/**
 * "This wasn't me" (SPEC §4.13): the owner of an account reports that a notified event was
 * not theirs. Whoever did it may hold the password and a session, so every session ends and
 * the password stops working until a reset through a verified contact.
 */
export function createNotMe(deps: {
  db: Db
  clock: Clock
  sessions: SessionService
  audit: AuditLog
  profiles: ProfileReader
}) {
  const { db, clock } = deps
  return {
    async report(token: string, context: RequestContext): Promise<void> {
      const nowMs = clock.now().getTime()
      // Single use by one conditional write: two clicks at once end the sessions once.
      const userId = await spendNotMeToken(db, sha256Hex(token), nowMs)
      if (!userId) {
        throw new GatehouseError('invalid_token', {
          detail: 'the link is unknown, already used or older than 7 days',
        })
      }
      await markCompromised(db, userId, nowMs)
      const ended = await deps.sessions.endAll(userId, 'compromise_reported', { context })
      deps.profiles.changed(userId)
      await deps.audit.record({
        event: 'compromise_reported',
        outcome: 'success',
        userId,
        details: { sessions_ended: ended.length },
        context,
      })
    },
  }
}
