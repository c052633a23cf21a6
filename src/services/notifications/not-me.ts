import { sha256Hex } from '../../crypto/token-digest.js'
import type { Db } from '../../store/db.js'
import { deleteBackupCodesIssuedSince } from '../../store/repositories/backup-codes.js'
import { deleteChannelsAddedSince } from '../../store/repositories/mfa-channels.js'
import {
  markCompromised,
  spendNotMeToken,
  type SpentNotMeToken,
} from '../../store/repositories/notifications.js'
import { deleteTotpSecretAddedSince } from '../../store/repositories/totp-secrets.js'
import { deleteCredentialsAddedSince } from '../../store/repositories/webauthn-credentials.js'
import type { ProfileReader } from '../accounts/user-profile.js'
import type { AuditDetails, AuditLog, RequestContext } from '../audit/audit-log.js'
import { GatehouseError } from '../errors.js'
import type { Clock } from '../ports.js'
import type { SessionService } from '../sessions/session-service.js'

export type NotMe = ReturnType<typeof createNotMe>

/**
 * A factor's rows are written a moment before the event that reports them (the event's time
 * is read when it is recorded, at the end of the request that added it), so "since the event"
 * reaches back this far. A factor the owner added in the minute before goes too, which costs
 * them a new enrolment; one of the intruder's that stayed would lock the owner out.
 */
const OWN_FACTOR_LEAD_MS = 60_000

/**
 * "This wasn't me" (SPEC §4.13): the owner of an account reports that a notified event was
 * not theirs. Whoever did it may hold the password, a session and second factors of their
 * own, so every session ends, the factors added since the event go, and the password stops
 * working until a reset through a verified contact.
 */
export function createNotMe(deps: {
  clock: Clock
  sessions: SessionService
  audit: AuditLog
  profiles: ProfileReader
}) {
  const { clock } = deps

  /**
   * The second factors added since the reported event were added by whoever did it: a
   * passkey signs in without the password, so theirs would outlive the owner's reset, and an
   * authenticator app of theirs would lock the owner out after it. Factors older than the
   * event were there before anything happened, and stay. Links sent before event times were
   * kept (migration 0017) remove nothing.
   */
  async function removeFactorsAddedSince(
    trx: Db,
    userId: string,
    spent: SpentNotMeToken,
  ): Promise<AuditDetails> {
    if (spent.eventAtMs === undefined) return {}
    const since = spent.eventAtMs - OWN_FACTOR_LEAD_MS
    return {
      passkeys_removed: await deleteCredentialsAddedSince(trx, userId, since, spent.passkeyId),
      totp_removed: await deleteTotpSecretAddedSince(trx, userId, since),
      channels_removed: await deleteChannelsAddedSince(trx, userId, since),
      backup_codes_removed: await deleteBackupCodesIssuedSince(trx, userId, since),
    }
  }

  return {
    async report(token: string, context: RequestContext): Promise<void> {
      const nowMs = clock.now().getTime()
      // Single use by one conditional write: two clicks at once end the sessions once. The
      // token is spent with everything it does to the account, the end of its sessions
      // included, so a failure half way leaves the link usable for another try instead of
      // a spent link and an intruder still signed in.
      const reported = await deps.audit.change(async (trx, record) => {
        const spent = await spendNotMeToken(trx, sha256Hex(token), nowMs)
        if (!spent) return undefined
        const { userId } = spent
        await markCompromised(trx, userId, nowMs)
        const removed = await removeFactorsAddedSince(trx, userId, spent)
        const ended = await deps.sessions.endAllWithin(trx, userId, 'compromise_reported', {
          context,
        })
        await record({
          event: 'compromise_reported',
          outcome: 'success',
          userId,
          details: { sessions_ended: ended.length, ...removed },
          context,
        })
        return { userId }
      })
      if (!reported) {
        throw new GatehouseError('invalid_token', {
          detail: 'the link is unknown, already used or older than 7 days',
        })
      }
      deps.profiles.changed(reported.userId)
    },
  }
}
