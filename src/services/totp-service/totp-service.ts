import type { SecretBox } from '../../crypto/secret-box.js'
import type { Db } from '../../store/db.js'
import { withConflict } from '../../store/errors.js'
import {
  acceptTotpStep,
  deleteTotpSubject,
  findTotpSubject,
  insertTotpSubject,
  listTotpSecrets,
  updateTotpSecret,
  type TotpSubjectRow,
} from '../../store/repositories/totp-subjects.js'
import type { AuditLog, RequestContext } from '../audit/audit-log.js'
import { GatehouseError } from '../errors.js'
import { newId } from '../ids.js'
import type { Clock, Random } from '../ports.js'
import { matchTotpStep, otpauthUrl, TOTP_SECRET_BYTES } from '../mfa/totp.js'
import { qrDataUrl } from '../mfa/qr-code.js'

export interface TotpSubject {
  username: string
  createdAt: Date
  verifiedOnce: boolean
}

/** Which API key is calling: subjects belong to its owner, and events name the key. */
export interface TotpCaller {
  owner: string
  apiKeyId: string
  context?: RequestContext
}

export type TotpService = ReturnType<typeof createTotpService>

const aad = (id: string) => `totp_subjects.secret_sealed:${id}`
// Another owner's subject answers exactly like a missing one, so owners cannot probe each other.
const notFound = () => new GatehouseError('not_found', { detail: 'no such TOTP subject' })

function toSubject(row: TotpSubjectRow): TotpSubject {
  return {
    username: row.username,
    createdAt: new Date(row.created_at),
    verifiedOnce: row.verified_at !== null,
  }
}

/** TOTP as a service (SPEC §4.7) for apps that keep their own users. */
export function createTotpService(deps: {
  db: Db
  clock: Clock
  random: Random
  box: SecretBox
  audit: AuditLog
  appName: string
}) {
  const { db, clock, random, box, audit, appName } = deps

  const record = (
    event:
      | 'totp_service_registered'
      | 'totp_service_verified'
      | 'totp_service_read'
      | 'totp_service_deleted',
    outcome: 'success' | 'failure',
    username: string,
    caller: TotpCaller,
    reason?: string,
  ) =>
    audit.record({
      event,
      outcome,
      username,
      details: {
        owner: caller.owner,
        api_key_id: caller.apiKeyId,
        ...(reason === undefined ? {} : { reason }),
      },
      context: caller.context,
    })

  return {
    async register(
      username: string,
      caller: TotpCaller,
    ): Promise<TotpSubject & { provisioningUri: string; qrCode: string }> {
      const secret = random.bytes(TOTP_SECRET_BYTES)
      const id = newId(random)
      const row: TotpSubjectRow = {
        id,
        owner: caller.owner,
        username,
        secret_sealed: box.seal(secret, aad(id)),
        last_step: null,
        verified_at: null,
        created_at: clock.now().getTime(),
      }
      try {
        await withConflict('this subject is already registered', () => insertTotpSubject(db, row))
      } catch (err) {
        await record('totp_service_registered', 'failure', username, caller, 'already_registered')
        throw err
      }
      await record('totp_service_registered', 'success', username, caller)
      const uri = otpauthUrl({ issuer: appName, account: username, secret })
      // SPEC §4.7: a data: URL, as the service Gatehouse replaces returned it; its clients put
      // it straight into <img src>.
      const qrCode = await qrDataUrl(uri, {
        type: 'image/png',
        errorCorrectionLevel: 'M',
        margin: 2,
      })
      return { ...toSubject(row), provisioningUri: uri, qrCode }
    },

    /**
     * `beforeCheck` runs with the subject's row id once the subject is found and before the
     * code is looked at: the per-subject guess limit is keyed by that id, not by the string
     * the caller sent, so no spelling of a name (case, trailing spaces) gets a fresh budget.
     */
    async verify(
      username: string,
      code: string,
      caller: TotpCaller,
      beforeCheck: (subjectId: string) => Promise<void> = () => Promise.resolve(),
    ): Promise<void> {
      const row = await findTotpSubject(db, caller.owner, username)
      if (!row) {
        await record('totp_service_verified', 'failure', username, caller, 'unknown_subject')
        throw notFound()
      }
      await beforeCheck(row.id)
      const nowMs = clock.now().getTime()
      const step = matchTotpStep(box.open(row.secret_sealed, aad(row.id)), code, nowMs)
      // A replayed code fails exactly like a wrong one: the conditional write decides.
      const accepted = step !== null && (await acceptTotpStep(db, row.id, step, nowMs))
      if (!accepted) {
        await record(
          'totp_service_verified',
          'failure',
          username,
          caller,
          step === null ? 'wrong_code' : 'replayed_code',
        )
        throw new GatehouseError('invalid_code', {
          detail: 'the code is wrong or was already used',
        })
      }
      await record('totp_service_verified', 'success', username, caller)
    },

    async get(username: string, caller: TotpCaller): Promise<TotpSubject> {
      const row = await findTotpSubject(db, caller.owner, username)
      // SPEC §4.7 audits every call: who looked up which subject tells of a probing key too.
      await record(
        'totp_service_read',
        row ? 'success' : 'failure',
        username,
        caller,
        row ? undefined : 'unknown_subject',
      )
      if (!row) throw notFound()
      return toSubject(row)
    },

    async remove(username: string, caller: TotpCaller): Promise<void> {
      if (!(await deleteTotpSubject(db, caller.owner, username))) {
        await record('totp_service_deleted', 'failure', username, caller, 'unknown_subject')
        throw notFound()
      }
      await record('totp_service_deleted', 'success', username, caller)
    },

    /** For `gatehouse secrets rotate`: re-seals secrets still under an old key. */
    async reseal(): Promise<number> {
      let changed = 0
      for (const row of await listTotpSecrets(db)) {
        if (!box.needsReseal(row.secret_sealed)) continue
        const plain = box.open(row.secret_sealed, aad(row.id))
        await updateTotpSecret(db, row.id, box.seal(plain, aad(row.id)))
        changed++
      }
      return changed
    },
  }
}
