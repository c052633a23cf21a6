import type { Db } from '../../store/db.js'
import { spendMfaTokensOf } from '../../store/repositories/mfa-tokens.js'
import { findContactsById } from '../../store/repositories/contacts.js'
import { findUserByIdentifier } from '../codes/contact-verification.js'
import { deleteChannels, enableChannel } from '../../store/repositories/mfa-channels.js'
import type { MfaSummary, MfaSummaryReader, ProfileReader } from '../accounts/user-profile.js'
import type { AuditEntry, AuditLog, RequestContext } from '../audit/audit-log.js'
import { GatehouseError } from '../errors.js'
import type { PasswordRecheck } from '../login/password-recheck.js'
import type { Clock } from '../ports.js'
import type { BackupCodes } from './backup-codes.js'
import { hasSecondFactor } from './factors.js'
import type { SecondFactorCheck } from './second-factor.js'
import type { TotpEnrolment, TotpFactor } from './totp-factor.js'
import { qrDataUrl } from './qr-code.js'

/** The signed-in caller, as its access token describes it. */
export interface Enroller {
  userId: string
  username: string
  amr: readonly string[]
}

export type MfaEnrolment = ReturnType<typeof createMfaEnrolment>

/** Turning second factors on and off for the signed-in user (SPEC §4.2). */
export function createMfaEnrolment(deps: {
  db: Db
  clock: Clock
  recheck: PasswordRecheck
  totp: TotpFactor
  backupCodes: BackupCodes
  secondFactor: SecondFactorCheck
  mfaSummary: MfaSummaryReader
  audit: AuditLog
  profiles: ProfileReader
  /** Further removers (passkeys) run by `removeAll`, through its transaction. */
  alsoRemove?: ((trx: Db, userId: string) => Promise<void>)[]
}) {
  const { db, clock, totp, backupCodes, audit, profiles, recheck, mfaSummary } = deps

  /**
   * SPEC §4.2: once a second factor exists, adding another needs a token that proved one, so a
   * stolen password-only token cannot plant the attacker's authenticator.
   */
  function assertMayEnrol(who: Enroller, summary: MfaSummary): void {
    if (hasSecondFactor(summary) && !who.amr.includes('mfa')) {
      throw new GatehouseError('mfa_required', {
        detail: 'log in with your second factor before adding another one',
      })
    }
  }

  /**
   * Enables a factor through `write`, in one transaction with its audit event (and so the
   * owner's notice): a factor is never on without the log and the owner hearing of it.
   */
  async function enable<T>(
    who: Enroller,
    method: string,
    context: RequestContext | undefined,
    write: (trx: Db) => Promise<T>,
  ): Promise<T> {
    const written = await audit.change(async (trx, record) => {
      const written = await write(trx)
      await record({
        event: 'mfa_enabled',
        outcome: 'success',
        userId: who.userId,
        username: who.username,
        details: { method },
        context,
      })
      return written
    })
    profiles.changed(who.userId)
    return written
  }

  /**
   * Every second factor of a user, in one transaction with `audited`: a failure half way must
   * not leave an account with some factors gone and others (a passkey, say) still signing in,
   * nor the factors gone without the audit event and the owner's notice. A password step
   * waiting for one of them is over too: its mfa_token answers "log in again", not "wrong code".
   */
  async function removeAll(userId: string, audited: AuditEntry): Promise<void> {
    await audit.change(async (trx, record) => {
      await spendMfaTokensOf(trx, userId, clock.now().getTime())
      await totp.remove(userId, trx)
      await backupCodes.remove(userId, trx)
      await deleteChannels(trx, userId)
      for (const remove of deps.alsoRemove ?? []) await remove(trx, userId)
      await record(audited)
    })
    profiles.changed(userId)
  }

  return {
    /** For other enrolments (passkey registration): 403 mfa_required unless allowed. */
    async assertMayEnrol(who: Enroller): Promise<void> {
      assertMayEnrol(who, await mfaSummary(who.userId))
    },

    async totpSetup(who: Enroller): Promise<TotpEnrolment & { qrCode: string }> {
      const summary = await mfaSummary(who.userId)
      if (summary.totp) throw new GatehouseError('conflict', { detail: 'TOTP is already enabled' })
      assertMayEnrol(who, summary)
      const enrolment = await totp.setup(who.userId, who.username)
      const qrCode = await qrDataUrl(enrolment.otpauthUrl, { errorCorrectionLevel: 'M' })
      return { ...enrolment, qrCode }
    },

    /** Confirms TOTP with a code and hands out a fresh set of backup codes, shown only now. */
    async totpEnable(who: Enroller, code: string, context?: RequestContext): Promise<string[]> {
      const summary = await mfaSummary(who.userId)
      if (summary.totp) throw new GatehouseError('conflict', { detail: 'TOTP is already enabled' })
      assertMayEnrol(who, summary)
      // With the secret's confirmation, in its transaction: TOTP never on without the codes
      // that are the way back when the phone is lost.
      const fresh = await backupCodes.newSet(who.userId)
      await enable(who, 'totp', context, async (trx) => {
        await totp.enable(who.userId, code, trx)
        await fresh.write(trx)
      })
      return fresh.codes
    },

    /** Email or SMS codes as a second factor; needs that contact verified first. */
    async channelEnable(
      who: Enroller,
      channel: 'email' | 'sms',
      context?: RequestContext,
    ): Promise<void> {
      const summary = await mfaSummary(who.userId)
      if (summary[channel]) return
      assertMayEnrol(who, summary)
      const user = await findContactsById(db, who.userId)
      const verified =
        channel === 'email' ? user?.email_verified_at != null : user?.phone_verified_at != null
      if (!verified) {
        throw new GatehouseError('conflict', {
          detail: `verify your ${channel === 'email' ? 'email address' : 'phone number'} first`,
        })
      }
      await enable(who, channel, context, (trx) =>
        enableChannel(trx, who.userId, channel, clock.now().getTime()),
      )
    },

    /**
     * Removes every second factor after the password and a TOTP or backup code. A user whose
     * only factors are passkeys or email/SMS codes has neither; their token must then carry
     * `mfa`.
     */
    async disable(
      who: Enroller,
      password: string,
      code: string | undefined,
      context: RequestContext,
    ): Promise<void> {
      // SPEC §3: a missing field is a validation_error, before anything is checked. `code` is
      // optional only for someone who has no TOTP or backup code to give.
      if (code === undefined) {
        const summary = await mfaSummary(who.userId)
        if (summary.totp || summary.backupCodesRemaining > 0)
          throw new GatehouseError('validation_error', {
            detail: 'code: required (a current TOTP code or an unused backup code)',
          })
      }
      // The password and the code are one guarded attempt: a wrong one of either counts
      // as a failed login, and a right pair gives the attempt back.
      const options = { field: 'password', action: 'mfa_disable', context }
      await recheck.verify(who, password, options, async () => {
        const summary = await mfaSummary(who.userId)
        if (summary.totp || summary.backupCodesRemaining > 0) {
          const check = (method: 'totp' | 'backup_code') =>
            deps.secondFactor.verify({
              userId: who.userId,
              username: who.username,
              method,
              code: code ?? '',
              context,
              action: 'mfa_disable',
            })
          const ok =
            code !== undefined &&
            ((summary.totp && /^[0-9]{6}$/.test(code) && (await check('totp'))) ||
              (await check('backup_code')))
          if (!ok) {
            await audit.record({
              event: 'mfa_failed',
              outcome: 'failure',
              userId: who.userId,
              username: who.username,
              details: { action: 'disable' },
              context,
            })
            throw new GatehouseError('invalid_code', {
              detail: 'code: give a current TOTP code or an unused backup code',
            })
          }
        } else if (hasSecondFactor(summary) && !who.amr.includes('mfa')) {
          throw new GatehouseError('mfa_required', {
            detail: 'log in with your second factor before turning it off',
          })
        }
      })
      await removeAll(who.userId, {
        event: 'mfa_disabled',
        outcome: 'success',
        userId: who.userId,
        username: who.username,
        context,
      })
    },

    /** A new set of backup codes after the password; the old set stops working. */
    async regenerateBackupCodes(
      who: Enroller,
      password: string,
      context: RequestContext,
    ): Promise<string[]> {
      if (!hasSecondFactor(await mfaSummary(who.userId))) {
        throw new GatehouseError('conflict', {
          detail: 'backup codes come with a second factor; enable one first',
        })
      }
      // SPEC §4.2: a new set of backup codes is a new factor. A password-only token (from
      // before TOTP was on, or a stolen password) must not mint codes that then pass as `mfa`.
      if (!who.amr.includes('mfa')) {
        throw new GatehouseError('mfa_required', {
          detail: 'log in with your second factor before making new backup codes',
        })
      }
      await recheck.verify(who, password, {
        field: 'password',
        action: 'backup_codes_regenerate',
        context,
      })
      const fresh = await backupCodes.newSet(who.userId)
      await audit.change(async (trx, record) => {
        await fresh.write(trx)
        await record({
          event: 'backup_codes_regenerated',
          outcome: 'success',
          userId: who.userId,
          username: who.username,
          context,
        })
      })
      profiles.changed(who.userId)
      return fresh.codes
    },

    /**
     * `gatehouse user create --totp` and `user totp`: an operator enrols a new, enabled secret
     * for a user (replacing any), to hand over as a QR code; no confirming code is asked.
     */
    async enrolTotpFor(identifier: string): Promise<TotpEnrolment & { username: string }> {
      const user = await findUserByIdentifier(db, identifier)
      if (!user) throw new GatehouseError('not_found', { detail: `no such user ${identifier}` })
      const enrolment = await audit.change(async (trx, record) => {
        const made = await totp.enrolDirectly(user.id, user.username, trx)
        await record({
          event: 'mfa_enabled',
          outcome: 'success',
          userId: user.id,
          username: user.username,
          details: { method: 'totp', via: 'cli' },
        })
        return made
      })
      profiles.changed(user.id)
      return { ...enrolment, username: user.username }
    },

    /** Every second factor, passkey and backup code gone (disable; admin reset-mfa). */
    removeAll,
  }
}
