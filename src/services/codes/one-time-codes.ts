import { timingSafeEqualHex } from '../../crypto/compare.js'
import { type CodeHashes } from '../../crypto/code-hashes.js'
import type { Db } from '../../store/db.js'
import {
  findLiveCodes,
  insertCodeRetiringOthers,
  markCodeUsed,
  takeCodeAttempt,
  type CodePurpose,
  type OneTimeCodeRow,
} from '../../store/repositories/one-time-codes.js'
import { GatehouseError } from '../errors.js'
import type { SecurityMetrics } from '../metrics.js'
import { newId } from '../ids.js'
import type { Clock, Mailer, Random, SmsSender, WarningLog } from '../ports.js'
import type { CounterFactory } from '../lockout/counters.js'
import { createDestinationThrottle } from './destination-throttle.js'
import { codeMessage } from './messages.js'
import { createSendThrottle } from './send-throttle.js'

export type CodeChannel = 'email' | 'sms'
export type { CodePurpose }

export const CODE_DIGITS = 6
export const CODE_TTL_MS = 10 * 60_000
export const CODE_MAX_ATTEMPTS = 5
const FORGET_AFTER_MS = 24 * 3_600_000
const WELL_FORMED = new RegExp(`^[0-9]{${CODE_DIGITS}}$`)

export interface CodeRequest {
  userId: string
  purpose: CodePurpose
  channel: CodeChannel
  /** The email address or phone number the code goes to. */
  to: string
}

/** A code someone typed, for one user and purpose (any channel unless named). */
export interface CodeGuess {
  userId: string
  purpose: CodePurpose
  channel?: CodeChannel
  code: string
}

export type OneTimeCodes = ReturnType<typeof createOneTimeCodes>

const sendKey = (req: CodeRequest) => ({
  userId: req.userId,
  purpose: req.purpose,
  channel: req.channel,
})

/**
 * What the operator needs from a provider's failure: nodemailer's SMTP reply and code, or
 * the SMS sender's status line. Never the message, and the code is blanked out in case a
 * server quoted it back.
 */
function providerError(err: unknown, code: string): Record<string, unknown> {
  const e = (typeof err === 'object' && err !== null ? err : {}) as Record<string, unknown>
  const text = (value: unknown) =>
    typeof value === 'string' ? value.replaceAll(code, '[code]') : undefined
  return {
    message: text(e.message) ?? String(err).replaceAll(code, '[code]'),
    code: text(e.code),
    response: text(e.response),
    responseCode: typeof e.responseCode === 'number' ? e.responseCode : undefined,
  }
}

/** Email and SMS codes (SPEC §4.4): 6 digits, keyed hashes, 10 minutes, single use, 5 tries. */
export function createOneTimeCodes(deps: {
  db: Db
  clock: Clock
  random: Random
  hasher: CodeHashes
  mailer: Mailer
  sms: SmsSender
  appName: string
  log: WarningLog
  counters: CounterFactory
  metrics: Pick<SecurityMetrics, 'rateLimited'>
}) {
  const { db, clock, random, hasher, mailer, sms, appName, log } = deps
  const throttle = createSendThrottle({ db, clock })
  const destinations = createDestinationThrottle({ counters: deps.counters })
  // Purpose, channel and user in the hash input: a code never matches another row's use.
  const context = (userId: string, purpose: string, channel: string) =>
    `${purpose}:${channel}:${userId}`

  /**
   * Hands the code to the provider. When the provider refuses or fails, the send slots (the
   * user's and the destination's) are given back (the user did not get a message, so it must not count), the provider's error
   * goes to the log for the operator, and the caller gets `503 delivery_failed`.
   */
  async function deliver(
    req: CodeRequest,
    code: string,
    release: () => Promise<void>,
  ): Promise<void> {
    const message = codeMessage(appName, req.purpose, code, CODE_TTL_MS / 60_000)
    try {
      if (req.channel === 'email')
        await mailer.send({ to: req.to, subject: message.subject, text: message.text })
      else await sms.send({ to: req.to, text: message.sms })
    } catch (err) {
      await release()
      log.warn(
        {
          userId: req.userId,
          purpose: req.purpose,
          channel: req.channel,
          error: providerError(err, code),
        },
        `the ${req.channel === 'email' ? 'email' : 'SMS'} provider failed to take a code message`,
      )
      throw new GatehouseError('delivery_failed', {
        detail: `the ${req.channel === 'email' ? 'email' : 'text message'} could not be sent; try again in a moment`,
      })
    }
  }

  /**
   * Takes a send slot and stores a new code (the previous one stops working). Returns the
   * delivery to run, or how long to wait when the throttle says no.
   */
  async function prepare(
    req: CodeRequest,
  ): Promise<{ ok: true; deliver: () => Promise<void> } | { ok: false; retryAfterSec: number }> {
    const slot = await throttle.reserve(sendKey(req))
    if (!slot.ok) {
      deps.metrics.rateLimited('send_code')
      return slot
    }
    // Only a contact being verified is a destination the asker picked; the other purposes
    // go to contacts already proven, which the per-user limit covers.
    const destination =
      req.purpose === 'verify_contact'
        ? await destinations.reserve(req.channel, req.to)
        : { ok: true as const, release: async () => {} }
    if (!destination.ok) {
      await throttle.release(sendKey(req), slot.sentAtMs)
      deps.metrics.rateLimited('send_code')
      return destination
    }
    const release = async () => {
      await throttle.release(sendKey(req), slot.sentAtMs)
      await destination.release()
    }
    const nowMs = clock.now().getTime()
    const code = random.digits(CODE_DIGITS)
    await insertCodeRetiringOthers(
      db,
      {
        id: newId(random),
        user_id: req.userId,
        purpose: req.purpose,
        channel: req.channel,
        destination: req.to,
        code_hash: await hasher.hash(code, context(req.userId, req.purpose, req.channel)),
        attempts: 0,
        created_at: nowMs,
        expires_at: nowMs + CODE_TTL_MS,
        used_at: null,
      },
      nowMs - FORGET_AFTER_MS,
    )
    return { ok: true, deliver: () => deliver(req, code, release) }
  }

  async function match(q: CodeGuess): Promise<OneTimeCodeRow | undefined> {
    const nowMs = clock.now().getTime()
    const live = await findLiveCodes(db, {
      userId: q.userId,
      purpose: q.purpose,
      channel: q.channel,
      now: nowMs,
      maxAttempts: CODE_MAX_ATTEMPTS,
    })
    const wellFormed = WELL_FORMED.test(q.code)
    for (const row of live) {
      if (!(await takeCodeAttempt(db, row.id, nowMs, CODE_MAX_ATTEMPTS))) continue
      const hashes = await hasher.candidates(q.code, context(q.userId, q.purpose, row.channel))
      if (wellFormed && hashes.some((hash) => timingSafeEqualHex(hash, row.code_hash))) return row
    }
    return undefined
  }

  return {
    prepare,

    /** Sends a new code now; `429 rate_limited` with Retry-After when throttled. */
    async send(req: CodeRequest): Promise<void> {
      const prepared = await prepare(req)
      if (!prepared.ok)
        throw new GatehouseError('rate_limited', {
          detail: 'a code was sent recently; wait before asking for another',
          retryAfterSec: prepared.retryAfterSec,
        })
      await prepared.deliver()
    },

    /**
     * The live code this one matches (its channel and destination), or undefined, with a try
     * taken but the code not spent: for a caller with more to do before the code may count
     * as used, which spends it with `spendIn` in the transaction of what it does. Each guess
     * takes a try from the live code before comparing, so parallel guesses get no more than
     * five comparisons per code.
     */
    match,

    /** Spends a code `match` returned; false if a parallel request spent it first. */
    spendIn: (trx: Db, row: OneTimeCodeRow): Promise<boolean> =>
      markCodeUsed(trx, row.id, clock.now().getTime()),

    /** Spends the matching live code and returns it, or undefined (`match`, then spent). */
    async consume(q: CodeGuess): Promise<OneTimeCodeRow | undefined> {
      const row = await match(q)
      return row && (await markCodeUsed(db, row.id, clock.now().getTime())) ? row : undefined
    },
  }
}
