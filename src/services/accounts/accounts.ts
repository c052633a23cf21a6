import type { PasswordHasher } from '../../crypto/password-hasher.js'
import type { Db } from '../../store/db.js'
import { withConflict } from '../../store/errors.js'
import { existingRoleNames } from '../../store/repositories/roles.js'
import {
  findLoginRecord,
  insertUserWithRoles,
  updatePasswordHash,
  type LoginRecord,
  type NewUserRow,
} from '../../store/repositories/users.js'
import type { AuditDetails, AuditLog, RequestContext } from '../audit/audit-log.js'
import { GatehouseError } from '../errors.js'
import { newId } from '../ids.js'
import type { PasswordRecheck, Rechecked } from '../login/password-recheck.js'
import type { Clock, Random } from '../ports.js'
import { isEmailAddress, isPhoneNumber, trimContact } from './contact-rules.js'
import { checkPassword, checkUsername } from './password-policy.js'
import type { ProfileReader } from './user-profile.js'
import { isLookupSafe, normalizeIdentifier } from './identifiers.js'
import { accountRefusal } from './account-refusal.js'

export interface NewAccount {
  username: string
  password?: string
  email?: string
  phone?: string
  roles?: string[]
}

export type AccountService = ReturnType<typeof createAccountService>

export { normalizeIdentifier } from './identifiers.js'

export { passwordResetRequired } from './account-refusal.js'

export function createAccountService(deps: {
  db: Db
  clock: Clock
  random: Random
  hasher: PasswordHasher
  audit: AuditLog
  profiles: ProfileReader
  recheck: PasswordRecheck
  cfg: { passwordMinLength: number }
}) {
  const { db, clock, random, hasher, audit, profiles, recheck, cfg } = deps

  function assertPasswordPolicy(password: string, username: string, field: string): void {
    const verdict = checkPassword(password, { minLength: cfg.passwordMinLength, username })
    if (!verdict.ok) {
      throw new GatehouseError('validation_error', {
        detail: verdict.reason.replace(/^password/, field),
      })
    }
  }

  return {
    /**
     * Creates an account (registration, CLI) with its `register` audit event, in one
     * transaction; returns the new user's id. `by.context.signal`: the registering client
     * hung up (see PasswordHasher).
     */
    async create(
      given: NewAccount,
      by: { context?: RequestContext; details?: AuditDetails } = {},
    ): Promise<string> {
      const input: NewAccount = {
        ...given,
        email: given.email === undefined ? undefined : trimContact(given.email),
        phone: given.phone === undefined ? undefined : trimContact(given.phone),
      }
      const username = checkUsername(input.username)
      if (!username.ok) throw new GatehouseError('validation_error', { detail: username.reason })
      if (input.password !== undefined)
        assertPasswordPolicy(input.password, input.username, 'password')
      if (input.email !== undefined && !isEmailAddress(input.email))
        throw new GatehouseError('validation_error', { detail: 'email: must be an email address' })
      if (input.phone !== undefined && !isPhoneNumber(input.phone))
        throw new GatehouseError('validation_error', {
          detail: 'phone: must be E.164, e.g. +14155550100',
        })
      const roles = input.roles ?? ['user']
      const known = await existingRoleNames(db, roles)
      const unknown = roles.filter((r) => !known.has(r))
      if (unknown.length > 0) {
        throw new GatehouseError('validation_error', {
          detail: `roles: unknown role ${unknown.join(', ')}`,
        })
      }
      const nowMs = clock.now().getTime()
      const row: NewUserRow = {
        id: newId(random),
        username: input.username,
        username_normalized: normalizeIdentifier(input.username),
        email: input.email ?? null,
        email_normalized: input.email ? normalizeIdentifier(input.email) : null,
        email_verified_at: null,
        phone: input.phone ?? null,
        phone_verified_at: null,
        password_hash:
          input.password === undefined
            ? null
            : await hasher.hash(input.password, by.context?.signal),
        locked_at: null,
        disabled_at: null,
        created_at: nowMs,
        updated_at: nowMs,
      }
      // A failed audit write leaves no account behind: the retry registers, not "taken".
      await withConflict('username or email is already taken', () =>
        audit.change(async (trx, record) => {
          await insertUserWithRoles(trx, row, [...new Set(roles)])
          await record({
            event: 'register',
            outcome: 'success',
            userId: row.id,
            username: input.username,
            ...by,
          })
        }),
      )
      return row.id
    },

    /** The account a login identifier (username or email, as typed) names, if any. */
    findForLogin(identifier: string): Promise<LoginRecord | undefined> {
      return isLookupSafe(identifier)
        ? findLoginRecord(db, normalizeIdentifier(identifier))
        : Promise.resolve(undefined)
    },

    /**
     * The password step of every login, for the `record` that `findForLogin(identifier)`
     * found. Unknown users and wrong passwords fail alike and take alike long (a dummy hash
     * is verified for unknown users), so the response does not tell which usernames exist.
     */
    async checkPassword(
      record: LoginRecord | undefined,
      identifier: string,
      password: string,
      context: RequestContext,
    ): Promise<LoginRecord> {
      let ok = false
      if (record?.password_hash) {
        const verdict = await hasher.verify(record.password_hash, password, context.signal)
        ok = verdict.ok
        if (ok && verdict.needsRehash) {
          // Imported bcrypt (or weaker argon2) hashes move to today's parameters at first use.
          await updatePasswordHash(
            db,
            record.id,
            await hasher.hash(password, context.signal),
            clock.now().getTime(),
          )
        }
      } else {
        await hasher.verifyDummy(password, context.signal)
      }
      const failed = (userId: string | null, reason: string) =>
        audit.record({
          event: 'login_failed',
          outcome: 'failure',
          userId,
          username: identifier,
          details: { reason },
          context,
        })
      if (!record || !ok) {
        await failed(record?.id ?? null, record ? 'wrong_password' : 'unknown_user')
        throw new GatehouseError('invalid_credentials', {
          detail: 'the username or password is wrong',
        })
      }
      const refusal = await accountRefusal(record, () => record.compromised)
      if (refusal) {
        await failed(record.id, refusal.code)
        throw refusal
      }
      return record
    },

    /**
     * Changes a password after proving the current one. `alsoWrite` joins the new password's
     * transaction (the caller ends the other sessions there), as does the audit event, so
     * none happens without the others; its result is returned.
     */
    async changePassword<T>(
      who: Rechecked,
      currentPassword: string,
      newPassword: string,
      context: RequestContext,
      alsoWrite: (trx: Db) => Promise<T>,
    ): Promise<T> {
      const { userId, username } = who
      await recheck.verify(who, currentPassword, {
        field: 'current_password',
        action: 'password_change',
        context,
      })
      assertPasswordPolicy(newPassword, username, 'new_password')
      const hash = await hasher.hash(newPassword)
      const written = await audit.change(async (trx, record) => {
        await updatePasswordHash(trx, userId, hash, clock.now().getTime())
        const written = await alsoWrite(trx)
        await record({ event: 'password_changed', outcome: 'success', userId, username, context })
        return written
      })
      profiles.changed(userId)
      return written
    },

    assertPasswordPolicy,
  }
}
