import { sha256Hex } from '../../crypto/hashing.js'
import type { Db } from '../../store/db.js'
import { markCompromised, spendNotMeToken } from '../../store/repositories/notifications.js'
import { deleteCredentialsAddedSince } from '../../store/repositories/webauthn-credentials.js'
import type { ProfileReader } from '../accounts/user-profile.js'
import type { AuditLog, RequestContext } from '../audit/audit-log.js'
import { GatehouseError } from '../errors.js'
import type { Clock } from '../ports.js'
import type { SessionService } from '../sessions/session-service.js'

export type NotMe = ReturnType<typeof createNotMe>

/**
 * "This wasn't me" (SPEC §4.13): the owner of an account reports that a notified event was
 * not theirs. Whoever did it may hold the password, a session and a passkey of their own, so
 * every session ends, the passkeys added since the event go, and the password stops working
 * until a reset through a verified contact.
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
      const spent = await spendNotMeToken(db, sha256Hex(token), nowMs)
      if (!spent) {
        throw new GatehouseError('invalid_token', {
          detail: 'the link is unknown, already used or older than 7 days',
        })
      }
      const { userId } = spent
      await markCompromised(db, userId, nowMs)
      // A passkey signs in without the password, so one the intruder added would outlive
      // the reset that follows. Every passkey added since the reported event goes; older
      // ones were there before anything happened, and stay.
      const passkeysRemoved =
        spent.eventAtMs === undefined
          ? []
          : await deleteCredentialsAddedSince(db, userId, spent.eventAtMs, spent.passkeyId)
      const ended = await deps.sessions.endAll(userId, 'compromise_reported', { context })
      deps.profiles.changed(userId)
      await deps.audit.record({
        event: 'compromise_reported',
        outcome: 'success',
        userId,
        details: { sessions_ended: ended.length, passkeys_removed: passkeysRemoved },
        context,
      })
    },
  }
}
