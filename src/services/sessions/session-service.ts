import type { SecretBox } from '../../crypto/secret-box.js'
import { sha256Hex } from '../../crypto/token-digest.js'
import type { Db } from '../../store/db.js'
import {
  findRefreshTokenByHash,
  forgetExpiredSuccessors,
  insertRefreshToken,
  rotateRefreshToken,
  type RefreshTokenRow,
} from '../../store/repositories/refresh-tokens.js'
import { rolesOfUser } from '../../store/repositories/roles.js'
import {
  findSession,
  insertSession,
  listActiveSessions,
  touchSession,
} from '../../store/repositories/sessions.js'
import { findUserById } from '../../store/repositories/users.js'
import type { AuditLog, RequestContext } from '../audit/audit-log.js'
import { GatehouseError } from '../errors.js'
import { randomToken } from '../../crypto/random.js'
import { newId } from '../ids.js'
import type { Clock, Random } from '../ports.js'
import type { AccessClaims, AccessTokens } from '../tokens/access-tokens.js'
import type { SessionGate } from './session-gate.js'
import { inTransaction } from '../../store/transactions.js'
import { createSessionEndings, type EndOptions } from './session-endings.js'

export interface IssuedTokens {
  accessToken: string
  refreshToken: string
  expiresIn: number
  userId: string
  sessionId: string
}

export interface SessionSummary {
  id: string
  createdAt: Date
  lastUsedAt: Date
  ip: string | null
  userAgent: string | null
}

export interface SessionConfig {
  accessTtlSec: number
  refreshTtlSec: number
  refreshReuseGraceSec: number
  sessionMaxAgeSec: number
}

/** Ending every session of a user, or every one but `exceptSessionId` (the caller's own). */
export type EndAllOptions = EndOptions & { exceptSessionId?: string }

export type SessionService = ReturnType<typeof createSessionService>

const invalidRefresh = () =>
  new GatehouseError('invalid_token', { detail: 'the refresh token is not valid' })

export function createSessionService(deps: {
  db: Db
  clock: Clock
  random: Random
  box: SecretBox
  accessTokens: AccessTokens
  gate: SessionGate
  audit: AuditLog
  cfg: SessionConfig
}) {
  const { db, clock, random, box, accessTokens, gate, audit, cfg } = deps
  const endings = createSessionEndings({ db, clock, gate, audit })
  const sealAad = (refreshTokenId: string) => `refresh_tokens.successor_sealed:${refreshTokenId}`
  const graceMs = cfg.refreshReuseGraceSec * 1000
  let lastSweepMs = Number.NEGATIVE_INFINITY

  /**
   * Erases every successor whose grace period is over. Run lazily by logins and refreshes (at
   * most once a second) and by the container's timer, so one is never kept much longer than
   * REFRESH_REUSE_GRACE whether or not its own session is ever used again.
   */
  async function forgetSpentSuccessors(force = false): Promise<void> {
    const nowMs = clock.now().getTime()
    if (!force && nowMs - lastSweepMs < 1000) return
    lastSweepMs = nowMs
    await forgetExpiredSuccessors(db, nowMs - graceMs)
  }
  const hasSwept = () => lastSweepMs > Number.NEGATIVE_INFINITY

  function newRefreshToken(
    sessionId: string,
    nowMs: number,
  ): { token: string; row: RefreshTokenRow } {
    const token = randomToken(random, 32)
    return {
      token,
      row: {
        id: newId(random),
        session_id: sessionId,
        token_hash: sha256Hex(token),
        created_at: nowMs,
        expires_at: nowMs + cfg.refreshTtlSec * 1000,
        used_at: null,
        successor_id: null,
        successor_sealed: null,
      },
    }
  }

  /**
   * How long an access token issued now may live: ACCESS_TOKEN_TTL, but never past its
   * session's SESSION_MAX_AGE (SPEC §4.3), or a token refreshed just before the end would
   * outlive the session by up to a TTL.
   */
  function accessTtlSec(sessionCreatedMs: number, nowMs: number): number {
    const leftSec = Math.floor((sessionCreatedMs + cfg.sessionMaxAgeSec * 1000 - nowMs) / 1000)
    return Math.max(1, Math.min(cfg.accessTtlSec, leftSec))
  }

  /**
   * `known`: the account's username and roles, when the caller has just read them (a login,
   * which found the account usable); otherwise they are read here.
   */
  async function accessFor(
    userId: string,
    session: { id: string; created_at: number },
    amr: string[],
    ttlSec: number,
    known?: { username: string; roles: string[] },
  ): Promise<string> {
    const sessionId = session.id
    if (known) return accessTokens.issue({ userId, sessionId, amr, ttlSec, ...known })
    const user = await findUserById(db, userId)
    if (!user || user.disabled_at !== null || user.locked_at !== null) throw invalidRefresh()
    const roles = await rolesOfUser(db, userId)
    return accessTokens.issue({ userId, sessionId, username: user.username, roles, amr, ttlSec })
  }

  /**
   * Spends `current` for exactly one new token (RFC 6749 §10.4); undefined when it was spent
   * already, before or just now by a concurrent request.
   */
  async function rotate(
    current: RefreshTokenRow,
    sessionId: string,
    nowMs: number,
  ): Promise<string | undefined> {
    if (current.used_at !== null) return undefined
    if (current.expires_at <= nowMs) throw invalidRefresh()
    const successor = newRefreshToken(sessionId, nowMs)
    const sealed = box.seal(successor.token, sealAad(current.id))
    if (!(await rotateRefreshToken(db, current.id, successor.row, sealed, nowMs))) return undefined
    await touchSession(db, sessionId, nowMs)
    await forgetSpentSuccessors()
    return successor.token
  }

  /**
   * The one successor a spent token was rotated to, while REFRESH_REUSE_GRACE lasts (two tabs,
   * a retried request); undefined after it.
   */
  async function successorWithinGrace(
    current: RefreshTokenRow,
    nowMs: number,
  ): Promise<string | undefined> {
    // Spent by a concurrent request since it was read: read again for its successor.
    const rotated =
      current.used_at === null ? await findRefreshTokenByHash(db, current.token_hash) : current
    if (!rotated || rotated.used_at === null || rotated.successor_sealed === null) return undefined
    if (cfg.refreshReuseGraceSec <= 0 || nowMs - rotated.used_at > graceMs) return undefined
    return box.open(rotated.successor_sealed, sealAad(rotated.id)).toString('utf8')
  }

  /**
   * A spent token presented after its grace period leaked: its session ends, and the reuse is
   * audited (and its owner told) with the end it causes, or neither happens.
   */
  async function endOnReuse(
    session: { id: string; user_id: string },
    context: RequestContext,
  ): Promise<void> {
    await inTransaction(db, async (trx) => {
      const filter = { userId: session.user_id, sessionId: session.id }
      const ended = await endings.endThrough(trx, filter, 'refresh_token_reused', { context })
      if (ended.length === 0) return
      await audit.recordIn(trx, {
        event: 'refresh_token_reused',
        outcome: 'failure',
        userId: session.user_id,
        details: { session_id: session.id },
        context,
      })
    })
  }

  return {
    forgetSpentSuccessors: () => forgetSpentSuccessors(true),
    /** True once a login or refresh here has swept (so the database is migrated). */
    hasSwept,
    onSessionsEnded: endings.onSessionsEnded,

    /**
     * Opens a session after a completed login and mints its first tokens. `alsoWrite` adds
     * the caller's writes (the login's audit event, the guard's reset) to the transaction
     * that creates the session and its refresh token: one commit per login instead of one
     * per row, and none of them without the others.
     */
    async start(input: {
      userId: string
      /** The account's username, when the caller has just read the account (spares a read). */
      username?: string
      amr: string[]
      context: RequestContext
      alsoWrite?: (trx: Db, sessionId: string) => Promise<void>
    }): Promise<IssuedTokens> {
      const nowMs = clock.now().getTime()
      const sessionId = newId(random)
      const { token, row } = newRefreshToken(sessionId, nowMs)
      const { username } = input
      let known: { username: string; roles: string[] } | undefined
      await inTransaction(db, async (trx) => {
        await insertSession(trx, {
          id: sessionId,
          user_id: input.userId,
          amr: JSON.stringify(input.amr),
          created_at: nowMs,
          last_used_at: nowMs,
          ended_at: null,
          end_reason: null,
          ip: input.context.ip?.slice(0, 64) ?? null,
          user_agent: input.context.userAgent?.slice(0, 512) ?? null,
        })
        await insertRefreshToken(trx, row)
        await input.alsoWrite?.(trx, sessionId)
        // Read after the writes, inside their transaction: on SQLite a read of its own would
        // take and drop the file locks once more (a few system calls, on every login).
        if (username !== undefined)
          known = { username, roles: await rolesOfUser(trx, input.userId) }
      })
      await forgetSpentSuccessors()
      const ttlSec = accessTtlSec(nowMs, nowMs)
      return {
        accessToken: await accessFor(
          input.userId,
          { id: sessionId, created_at: nowMs },
          input.amr,
          ttlSec,
          known,
        ),
        refreshToken: token,
        expiresIn: ttlSec,
        userId: input.userId,
        sessionId,
      }
    },

    /**
     * RFC 6749 §10.4 rotation: every refresh spends the token and mints exactly one successor.
     * A token presented again within the grace period gets that same successor back (two tabs,
     * a retried request); after it, the reuse means the token leaked, so the session ends.
     */
    async refresh(refreshToken: string, context: RequestContext): Promise<IssuedTokens> {
      const nowMs = clock.now().getTime()
      const current = await findRefreshTokenByHash(db, sha256Hex(refreshToken))
      if (!current) throw invalidRefresh()
      const session = await findSession(db, current.session_id)
      if (!session || session.ended_at !== null || !(await gate.isAlive(session.id)))
        throw invalidRefresh()
      // ASVS 5 V7.3.2: a session refreshed forever must not live forever with its first amr.
      if (nowMs - session.created_at >= cfg.sessionMaxAgeSec * 1000) {
        await endings.end({ userId: session.user_id, sessionId: session.id }, 'max_age', {
          context,
        })
        throw new GatehouseError('invalid_token', {
          detail: 'the session reached its maximum age; log in again',
        })
      }
      const successor =
        (await rotate(current, session.id, nowMs)) ?? (await successorWithinGrace(current, nowMs))
      if (successor === undefined) {
        await endOnReuse(session, context)
        throw invalidRefresh()
      }
      const ttlSec = accessTtlSec(session.created_at, nowMs)
      const amr = JSON.parse(session.amr) as string[]
      return {
        accessToken: await accessFor(session.user_id, session, amr, ttlSec),
        refreshToken: successor,
        expiresIn: ttlSec,
        userId: session.user_id,
        sessionId: session.id,
      }
    },

    /** The Bearer check of every authenticated request: signature, claims, then session liveness. */
    async authenticate(accessToken: string): Promise<AccessClaims> {
      const claims = await accessTokens.verify(accessToken)
      if (!(await gate.isAlive(claims.sid))) {
        throw new GatehouseError('invalid_token', { detail: 'the session has ended' })
      }
      return claims
    },

    /** Ends the session a refresh token belongs to (logout with a refresh token). */
    async endByRefreshToken(refreshToken: string, context: RequestContext): Promise<void> {
      const row = await findRefreshTokenByHash(db, sha256Hex(refreshToken))
      const session = row ? await findSession(db, row.session_id) : undefined
      if (!session || session.ended_at !== null) throw invalidRefresh()
      await endings.end({ userId: session.user_id, sessionId: session.id }, 'logout', { context })
    },

    /** Ends one session of a user; another user's session is not found. */
    async endOne(
      userId: string,
      sessionId: string,
      reason: string,
      context: RequestContext,
    ): Promise<void> {
      const ended = await endings.end({ userId, sessionId }, reason, { context })
      if (ended.length === 0) throw new GatehouseError('not_found', { detail: 'no such session' })
    },

    /** Ends every session of a user, or every one but `exceptSessionId`. */
    endAll(userId: string, reason: string, opts: EndAllOptions = {}): Promise<string[]> {
      return inTransaction(db, (trx) => endings.endAllThrough(trx, userId, reason, opts))
    },

    /**
     * `endAll` as part of the caller's transaction `trx`, for changes that must not happen
     * without the sessions ending (a compromise report, a password reset), or the other way
     * round. The gate hears of it once `trx` has committed.
     */
    endAllWithin(
      trx: Db,
      userId: string,
      reason: string,
      opts: EndAllOptions = {},
    ): Promise<string[]> {
      return endings.endAllThrough(trx, userId, reason, opts)
    },

    async list(userId: string): Promise<SessionSummary[]> {
      // A session past its maximum age can no longer be refreshed: it is over, ended or not.
      const bornAfter = clock.now().getTime() - cfg.sessionMaxAgeSec * 1000
      const rows = (await listActiveSessions(db, userId)).filter((r) => r.created_at > bornAfter)
      return rows.map((r) => ({
        id: r.id,
        createdAt: new Date(r.created_at),
        lastUsedAt: new Date(r.last_used_at),
        ip: r.ip,
        userAgent: r.user_agent,
      }))
    },
  }
}
