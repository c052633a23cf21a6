import type { Db } from '../../store/db.js'
import { excessiveCost, parseDerivedHash } from '../../crypto/imported-hashes.js'
import { isUniqueViolation } from '../../store/errors.js'
import { existingRoleNames } from '../../store/repositories/roles.js'
import { takenIdentifiers } from '../../store/repositories/user-admin.js'
import { insertUserWithRoles, type NewUserRow } from '../../store/repositories/users.js'
import { normalizeIdentifier } from '../accounts/accounts.js'
import { isEmailAddress, isPhoneNumber, trimContact } from '../accounts/contact-rules.js'
import { checkUsername } from '../accounts/password-policy.js'
import type { AuditLog } from '../audit/audit-log.js'
import { GatehouseError } from '../errors.js'
import { newId } from '../ids.js'
import type { Clock, Random } from '../ports.js'
import { fromBase32 } from '../mfa/totp.js'
import { parseImportFile, type ImportRecord } from './import-file.js'

/**
 * Writes an imported TOTP secret as the user's enabled authenticator entry, inside the
 * transaction that creates the user (so a failure leaves nothing behind). The second-factor
 * service owns that table and provides this.
 */
export type ImportedTotpWriter = (
  trx: Db,
  user: { id: string; username: string },
  secret: Buffer,
  nowMs: number,
) => Promise<void>

export interface ImportReport {
  imported: number
  skipped: { line: number; username: string }[]
  rejected: { line: number; reason: string }[]
  warnings: string[]
  /** A problem with the whole file; nothing was imported. */
  fatal?: string
}

export type UserImport = ReturnType<typeof createUserImport>

interface ValidRow {
  username: string
  email: string | null
  phone: string | null
  emailVerified: boolean
  phoneVerified: boolean
  passwordHash: string | null
  totpSecret: Buffer | null
  roles: string[]
}

class Rejection extends Error {}

// The hash formats the replaced systems wrote: bcrypt ($2a$/$2b$/$2y$), PHC argon2, and
// Werkzeug's, passlib's and Django's PBKDF2 and scrypt (crypto/imported-hashes.ts).
const BCRYPT = /^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$/
const ARGON2 =
  /^\$argon2(id|i|d)\$(v=[0-9]+\$)?([mtp]=[0-9]+,){2}[mtp]=[0-9]+\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$/
const MIN_TOTP_SECRET_BYTES = 10 // 80 bits: the shortest secret common authenticator setups used

/** A cell's text with the whitespace around it dropped (by `clean`); blank means absent. */
function optionalString(
  value: unknown,
  field: string,
  clean = (text: string) => text.trim(),
): string | null {
  if (value === undefined || value === null) return null
  if (typeof value !== 'string') throw new Rejection(`${field}: must be a string`)
  const cleaned = clean(value)
  return cleaned === '' ? null : cleaned
}

/**
 * `true`/`false` (any case; JSON booleans too), default false: only a contact the old service
 * had verified may receive password reset codes, so unknown means unverified.
 */
function optionalFlag(value: unknown, field: string): boolean {
  if (value === undefined || value === null || value === '') return false
  if (typeof value === 'boolean') return value
  const text = typeof value === 'string' ? value.trim().toLowerCase() : undefined
  if (text === 'true') return true
  if (text === 'false' || text === '') return false
  throw new Rejection(`${field}: must be true or false`)
}

function rolesOf(value: unknown): string[] {
  if (value === undefined || value === null) return ['user']
  const list = typeof value === 'string' ? value.split(';') : value
  if (!Array.isArray(list) || !list.every((r) => typeof r === 'string'))
    throw new Rejection('roles: must be a list of role names')
  const roles = [...new Set(list.map((r) => r.trim()).filter((r) => r !== ''))]
  return roles.length === 0 ? ['user'] : roles
}

function validate(fields: ImportRecord['fields']): ValidRow {
  const username = optionalString(fields.username, 'username')
  if (username === null) throw new Rejection('username: is missing')
  const verdict = checkUsername(username)
  if (!verdict.ok) throw new Rejection(verdict.reason)
  // The rules the API and accounts.create apply, so an import stores nothing they refuse and
  // stores an address as they would.
  const email = optionalString(fields.email, 'email', trimContact)
  if (email !== null && !isEmailAddress(email))
    throw new Rejection('email: must be an email address')
  const phone = optionalString(fields.phone, 'phone', trimContact)
  if (phone !== null && !isPhoneNumber(phone))
    throw new Rejection('phone: must be E.164, e.g. +14155550100')
  const emailVerified = optionalFlag(fields.email_verified, 'email_verified')
  if (emailVerified && email === null) throw new Rejection('email_verified: there is no email')
  const phoneVerified = optionalFlag(fields.phone_verified, 'phone_verified')
  if (phoneVerified && phone === null) throw new Rejection('phone_verified: there is no phone')
  const passwordHash = optionalString(fields.password_hash, 'password_hash')
  if (passwordHash !== null) {
    if (
      !BCRYPT.test(passwordHash) &&
      !ARGON2.test(passwordHash) &&
      parseDerivedHash(passwordHash) === undefined
    )
      throw new Rejection('password_hash: must be a bcrypt, argon2, PBKDF2 or scrypt hash')
    const tooCostly = excessiveCost(passwordHash)
    if (tooCostly !== undefined) throw new Rejection(`password_hash: ${tooCostly}`)
  }
  const totpText = optionalString(fields.totp_secret, 'totp_secret')
  let totpSecret: Buffer | null = null
  if (totpText !== null) {
    const decoded = fromBase32(totpText)
    if (!decoded || decoded.length < MIN_TOTP_SECRET_BYTES || decoded.length > 64)
      throw new Rejection('totp_secret: must be a base32 secret of 80 to 512 bits')
    totpSecret = decoded
  }
  return {
    username,
    email,
    phone,
    emailVerified,
    phoneVerified,
    passwordHash,
    totpSecret,
    roles: rolesOf(fields.roles),
  }
}

/**
 * `gatehouse user import` (SPEC §6): people moving from another service keep their password
 * hash and authenticator entry. Each row is one transaction: a rejected row changes nothing,
 * and a username that exists already is skipped, so importing a file twice adds nothing.
 */
export function createUserImport(deps: {
  db: Db
  clock: Clock
  random: Random
  audit: AuditLog
  totpWriter: ImportedTotpWriter
}) {
  const { db, clock, random, audit, totpWriter } = deps

  async function importRow(row: ValidRow): Promise<'imported' | 'skipped'> {
    const usernameNormalized = normalizeIdentifier(row.username)
    const emailNormalized = row.email === null ? null : normalizeIdentifier(row.email)
    const taken = await takenIdentifiers(db, usernameNormalized, emailNormalized)
    if (taken.username) return 'skipped'
    if (taken.email) throw new Rejection('email: already belongs to another account')
    const known = await existingRoleNames(db, row.roles)
    const unknown = row.roles.filter((r) => !known.has(r))
    if (unknown.length > 0) throw new Rejection(`roles: unknown role ${unknown.join(', ')}`)
    const nowMs = clock.now().getTime()
    const user: NewUserRow = {
      id: newId(random),
      username: row.username,
      username_normalized: usernameNormalized,
      email: row.email,
      email_normalized: emailNormalized,
      // Contacts are not proven to us yet: the user verifies them again.
      email_verified_at: row.emailVerified ? nowMs : null,
      phone: row.phone,
      phone_verified_at: row.phoneVerified ? nowMs : null,
      password_hash: row.passwordHash,
      locked_at: null,
      disabled_at: null,
      created_at: nowMs,
      updated_at: nowMs,
    }
    try {
      await audit.change(async (trx, record) => {
        await insertUserWithRoles(trx, user, row.roles)
        if (row.totpSecret !== null)
          await totpWriter(trx, { id: user.id, username: user.username }, row.totpSecret, nowMs)
        await record({
          event: 'register',
          outcome: 'success',
          userId: user.id,
          username: user.username,
          details: {
            via: 'import',
            password: row.passwordHash !== null,
            totp: row.totpSecret !== null,
          },
        })
      })
    } catch (err) {
      // Someone registered the same name or email between our check and the insert.
      if (isUniqueViolation(err)) throw new Rejection('username or email was taken meanwhile')
      // The TOTP writer refusing the secret rejects the row; the transaction undid the user.
      if (err instanceof GatehouseError) throw new Rejection(`totp_secret: ${err.message}`)
      throw err
    }
    return 'imported'
  }

  return {
    async run(text: string): Promise<ImportReport> {
      const parsed = parseImportFile(text)
      const report: ImportReport = {
        imported: 0,
        skipped: [],
        rejected: [],
        warnings: parsed.warnings,
      }
      if (parsed.fatal !== undefined) return { ...report, fatal: parsed.fatal }
      const firstLineOf = new Map<string, number>()
      for (const record of parsed.records) {
        try {
          if (record.error !== undefined) throw new Rejection(record.error)
          const row = validate(record.fields)
          const key = normalizeIdentifier(row.username)
          const first = firstLineOf.get(key)
          if (first !== undefined) throw new Rejection(`username: same as line ${first}`)
          firstLineOf.set(key, record.line)
          if ((await importRow(row)) === 'imported') report.imported++
          else report.skipped.push({ line: record.line, username: row.username })
        } catch (err) {
          if (!(err instanceof Rejection)) throw err
          report.rejected.push({ line: record.line, reason: err.message })
        }
      }
      return report
    },
  }
}
