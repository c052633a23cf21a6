import type { Db } from '../../store/db.js'
import {
  findContactsById,
  findContactsByIdentifier,
  markContactVerified,
} from '../../store/repositories/contacts.js'
import { normalizeIdentifier } from '../accounts/accounts.js'
import type { ProfileReader } from '../accounts/user-profile.js'
import type { AuditLog, RequestContext } from '../audit/audit-log.js'
import { GatehouseError } from '../errors.js'
import type { Clock } from '../ports.js'
import type { CodeChannel, OneTimeCodes } from './one-time-codes.js'
import { isLookupSafe } from '../accounts/identifiers.js'

/** The account a username or email, as typed, names; identifiers that can name none are not looked up. */
export function findUserByIdentifier(db: Db, identifier: string) {
  return isLookupSafe(identifier)
    ? findContactsByIdentifier(db, normalizeIdentifier(identifier))
    : Promise.resolve(undefined)
}

export type ContactVerification = ReturnType<typeof createContactVerification>

/** Proving an email address or phone number with a code sent to it (SPEC §4.1). */
export function createContactVerification(deps: {
  db: Db
  clock: Clock
  codes: OneTimeCodes
  audit: AuditLog
  profiles: ProfileReader
}) {
  const { db, clock, codes, audit, profiles } = deps
  const wrongCode = () =>
    new GatehouseError('invalid_code', { detail: 'the code is wrong, used or expired' })

  return {
    /**
     * A code to each contact given at registration; the account exists whether or not it
     * arrives. A refused or failed send to one contact does not stop the other's; the first
     * error is thrown once both were tried.
     */
    async sendForNewAccount(userId: string, contacts: { email?: string; phone?: string }) {
      const sends: { channel: CodeChannel; to: string }[] = []
      if (contacts.email) sends.push({ channel: 'email', to: contacts.email })
      if (contacts.phone) sends.push({ channel: 'sms', to: contacts.phone })
      const errors: unknown[] = []
      for (const { channel, to } of sends) {
        try {
          await codes.send({ userId, purpose: 'verify_contact', channel, to })
        } catch (err) {
          errors.push(err)
        }
      }
      if (errors.length > 0) throw errors[0]
    },

    /** A new code for the unverified contact; the previous code stops working. */
    async resend(userId: string, channel: CodeChannel): Promise<void> {
      const user = await findContactsById(db, userId)
      const to = channel === 'email' ? user?.email : user?.phone
      const verifiedAt = channel === 'email' ? user?.email_verified_at : user?.phone_verified_at
      const what = channel === 'email' ? 'email address' : 'phone number'
      if (!to) throw new GatehouseError('conflict', { detail: `the account has no ${what}` })
      if (verifiedAt != null)
        throw new GatehouseError('conflict', { detail: `the ${what} is already verified` })
      await codes.send({ userId, purpose: 'verify_contact', channel, to })
    },

    /** Marks the contact verified; returns the user's id. */
    async verify(
      identifier: string,
      channel: CodeChannel,
      code: string,
      context: RequestContext,
    ): Promise<string> {
      const user = await findUserByIdentifier(db, identifier)
      // An unknown name is audited as a wrong code is (login does the same): the probe shows
      // in the log, and both answers cost the same write, so their timing does not tell
      // which usernames exist.
      const failed = (userId: string | null, reason: string) =>
        audit.record({
          event: 'contact_verified',
          outcome: 'failure',
          userId,
          username: identifier,
          details: { channel, reason },
          context,
        })
      if (!user) {
        await failed(null, 'unknown_user')
        throw wrongCode()
      }
      const row = await codes.match({ userId: user.id, purpose: 'verify_contact', channel, code })
      const nowMs = clock.now().getTime()
      // The code is spent, the contact marked and the event written together: a failure in
      // between left a spent code and an unverified contact, or a verification not audited.
      const verified =
        row !== undefined &&
        (await audit.change(async (trx, record) => {
          if (!(await codes.spendIn(trx, row))) return false
          // Spent either way: a code sent to an address the account no longer has is dead.
          if (!(await markContactVerified(trx, user.id, channel, row.destination, nowMs)))
            return false
          await record({
            event: 'contact_verified',
            outcome: 'success',
            userId: user.id,
            username: identifier,
            details: { channel },
            context,
          })
          return true
        }))
      if (!verified) {
        await failed(user.id, 'invalid_code')
        throw wrongCode()
      }
      profiles.changed(user.id)
      return user.id
    },
  }
}
