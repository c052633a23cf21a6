import type { Db } from '../../store/db.js'
import { afterCommit } from '../../store/transactions.js'
import {
  deleteCredential,
  deleteCredentials,
  listCredentials,
  renameCredential,
  type CredentialRow,
} from '../../store/repositories/webauthn-credentials.js'
import type { ProfileReader } from '../accounts/user-profile.js'
import type { AuditLog, RequestContext } from '../audit/audit-log.js'
import { GatehouseError } from '../errors.js'
import type { Enroller } from '../mfa/enrolment.js'

/** A passkey as its owner sees it. */
export interface Passkey {
  id: string
  name: string
  createdAt: Date
  lastUsedAt: Date | null
}

export function toPasskey(row: CredentialRow): Passkey {
  return {
    id: row.id,
    name: row.name,
    createdAt: new Date(row.created_at),
    lastUsedAt: row.last_used_at === null ? null : new Date(row.last_used_at),
  }
}

export const PASSKEY_NAME_MAX = 64
// Control characters would forge lines wherever a name is shown or logged; a lone UTF-16
// surrogate is no character at all, and the drivers would store it as U+FFFD.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f]|\p{Surrogate}/u // eslint-disable-line no-control-regex

/** A name as typed, trimmed; 1–64 characters without control characters. */
export function passkeyName(name: string, field = 'name'): string {
  const trimmed = name.trim()
  if (trimmed === '' || [...trimmed].length > PASSKEY_NAME_MAX || UNPRINTABLE.test(trimmed)) {
    throw new GatehouseError('validation_error', {
      detail: `${field}: must be 1–${PASSKEY_NAME_MAX} characters, not only spaces, without control characters`,
    })
  }
  return trimmed
}

const noSuchPasskey = () => new GatehouseError('not_found', { detail: 'no such passkey' })

export type PasskeyCredentials = ReturnType<typeof createPasskeyCredentials>

/** The signed-in user's list of passkeys (SPEC §4.9): list, rename, remove. */
export function createPasskeyCredentials(deps: {
  db: Db
  audit: AuditLog
  profiles: ProfileReader
}) {
  const { db, audit, profiles } = deps

  return {
    async list(userId: string): Promise<Passkey[]> {
      return (await listCredentials(db, userId)).map(toPasskey)
    },

    /** Another user's passkey is 404, as if it did not exist. */
    async rename(who: Enroller, id: string, name: string): Promise<Passkey> {
      const row = await renameCredential(db, who.userId, id, passkeyName(name))
      if (!row) throw noSuchPasskey()
      return toPasskey(row)
    },

    /**
     * Removing a factor needs a token that proved a factor, as `2fa/disable` does: a session
     * that logged in with the password alone (before the passkey existed) must not be able
     * to strip the account of its second factor.
     */
    async remove(who: Enroller, id: string, context: RequestContext): Promise<void> {
      if (!who.amr.includes('mfa')) {
        throw new GatehouseError('mfa_required', {
          detail: 'log in with your second factor before removing a passkey',
        })
      }
      // With its audit event (and the owner's notice) or not at all.
      await audit.change(async (trx, record) => {
        if (!(await deleteCredential(trx, who.userId, id))) throw noSuchPasskey()
        await record({
          event: 'passkey_removed',
          outcome: 'success',
          userId: who.userId,
          username: who.username,
          details: { passkey_id: id },
          context,
        })
      })
      profiles.changed(who.userId)
    },

    /**
     * Every passkey of a user gone (2fa/disable, admin reset-mfa), with its audit event,
     * through the caller's transaction `trx`.
     */
    async removeAllWithin(trx: Db, userId: string): Promise<void> {
      const count = await deleteCredentials(trx, userId)
      if (count === 0) return
      await audit.recordIn(trx, {
        event: 'passkey_removed',
        outcome: 'success',
        userId,
        details: { count, all: true },
      })
      afterCommit(trx, () => profiles.changed(userId))
    },
  }
}
