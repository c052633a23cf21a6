import type { SecretBox } from '../../crypto/secret-box.js'
import type { Db } from '../../store/db.js'
import {
  acceptTotpStep,
  deleteTotpSecret,
  enableTotpSecret,
  findTotpSecret,
  insertEnabledTotpSecret,
  listSealedTotpSecrets,
  replaceEnabledTotpSecret,
  resealTotpSecret,
  savePendingTotpSecret,
} from '../../store/repositories/totp-secrets.js'
import { GatehouseError } from '../errors.js'
import type { Clock, Random } from '../ports.js'
import { base32Of, matchTotpStep, newTotpSecret, otpauthUrl } from './totp.js'

export interface TotpEnrolment {
  secret: string
  otpauthUrl: string
}

export type TotpFactor = ReturnType<typeof createTotpFactor>

// The AAD names table, column and row: a sealed secret copied to another user does not open.
const aad = (userId: string) => `totp_secrets.secret_sealed:${userId}`

/** A user's authenticator-app factor: setup, confirmation, verification, removal. */
export function createTotpFactor(deps: {
  db: Db
  box: SecretBox
  clock: Clock
  random: Random
  appName: string
}) {
  const { db, box, clock, random, appName } = deps

  const enrolment = (username: string, secret: string): TotpEnrolment => ({
    secret,
    otpauthUrl: otpauthUrl({ issuer: appName, account: username, secret }),
  })

  return {
    /** A new pending secret (replacing a pending one); TOTP stays off until `enable`. */
    async setup(userId: string, username: string): Promise<TotpEnrolment> {
      const secret = newTotpSecret(random)
      const saved = await savePendingTotpSecret(
        db,
        userId,
        box.seal(secret, aad(userId)),
        clock.now().getTime(),
      )
      if (!saved) throw new GatehouseError('conflict', { detail: 'TOTP is already enabled' })
      return enrolment(username, secret)
    },

    /** Confirms the pending secret with a code; that code's step counts as used. */
    /** `run`: the caller's transaction, when enabling is part of a larger change. */
    async enable(userId: string, code: string, run: Db = db): Promise<void> {
      const row = await findTotpSecret(run, userId)
      if (!row)
        throw new GatehouseError('conflict', { detail: 'call /api/auth/2fa/totp/setup first' })
      if (row.enabled_at !== null)
        throw new GatehouseError('conflict', { detail: 'TOTP is already enabled' })
      const nowMs = clock.now().getTime()
      const secret = box.open(row.secret_sealed, aad(userId)).toString('utf8')
      const step = matchTotpStep(secret, code, nowMs)
      if (step === null || !(await enableTotpSecret(run, userId, row.secret_sealed, step, nowMs)))
        throw new GatehouseError('invalid_code', { detail: 'the code is wrong or expired' })
    },

    /** True if the code is right and its step later than any accepted before (no replay). */
    async verify(userId: string, code: string): Promise<boolean> {
      const row = await findTotpSecret(db, userId)
      if (!row || row.enabled_at === null) return false
      const secret = box.open(row.secret_sealed, aad(userId)).toString('utf8')
      const step = matchTotpStep(secret, code, clock.now().getTime())
      return step !== null && (await acceptTotpStep(db, userId, step))
    },

    /**
     * Enrols and enables a new secret at once, no code needed (`gatehouse user totp`), in
     * `run`: the caller's transaction, which holds its audit event too.
     */
    async enrolDirectly(userId: string, username: string, run: Db = db): Promise<TotpEnrolment> {
      const base32 = newTotpSecret(random)
      await replaceEnabledTotpSecret(
        run,
        userId,
        box.seal(base32, aad(userId)),
        clock.now().getTime(),
      )
      return enrolment(username, base32)
    },

    /**
     * `gatehouse user import`: the imported authenticator entry, enabled at once, written in
     * the transaction that creates the user (the `ImportedTotpWriter` shape).
     */
    // An arrow property, so the container can hand it over unbound.
    writeImported: async (
      trx: Db,
      user: { id: string; username: string },
      secret: Buffer,
      nowMs: number,
    ): Promise<void> => {
      await insertEnabledTotpSecret(trx, user.id, box.seal(base32Of(secret), aad(user.id)), nowMs)
    },

    /** `run`: the caller's transaction, when the removal is part of a larger one. */
    async remove(userId: string, run: Db = db): Promise<void> {
      await deleteTotpSecret(run, userId)
    },

    /** `gatehouse secrets rotate`: re-encrypts secrets sealed under an old key. */
    async reseal(): Promise<number> {
      let changed = 0
      for (const row of await listSealedTotpSecrets(db)) {
        if (!box.needsReseal(row.secret_sealed)) continue
        const plain = box.open(row.secret_sealed, aad(row.user_id))
        if (
          await resealTotpSecret(
            db,
            row.user_id,
            row.secret_sealed,
            box.seal(plain, aad(row.user_id)),
          )
        )
          changed++
      }
      return changed
    },
  }
}
