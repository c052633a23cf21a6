import { sha256Hex } from '../../crypto/token-digest.js'
import { randomToken } from '../../crypto/random.js'
import type { Db } from '../../store/db.js'
import {
  findMfaToken,
  holdMfaToken,
  insertMfaToken,
  releaseMfaToken,
  spendMfaToken,
  type MfaTokenRow,
} from '../../store/repositories/mfa-tokens.js'
import type { Clock, Random } from '../ports.js'

export const MFA_TOKEN_TTL_SEC = 300
export const MFA_TOKEN_MAX_ATTEMPTS = 5

/** How long one check may hold a token before another may take it (a crashed instance's). */
const HOLD_MS = 30_000
/** How long a second check of the same token waits for the first, at most. */
const WAIT_MS = 10_000
const POLL_MS = 25

export type MfaTokens = ReturnType<typeof createMfaTokens>

/** One check's hold on a token: spent after a right code, or released. */
export interface MfaTokenHold {
  /** False when the token died meanwhile (every session of the user ended, say). */
  spend(): Promise<boolean>
  release(): Promise<void>
}

/**
 * The ticket between the password step and the second factor (SPEC §4.1): bound to one
 * user, 5 minutes, 5 tries, spent by success. Stored as SHA-256: it carries 256 random bits.
 */
export function createMfaTokens(deps: { db: Db; clock: Clock; random: Random }) {
  const { db, clock, random } = deps
  const now = () => clock.now().getTime()

  return {
    async issue(userId: string, loginName: string): Promise<{ token: string; expiresIn: number }> {
      const token = randomToken(random, 32)
      const nowMs = now()
      await insertMfaToken(
        db,
        {
          token_hash: sha256Hex(token),
          user_id: userId,
          login_name: loginName.slice(0, 255),
          attempts: 0,
          created_at: nowMs,
          expires_at: nowMs + MFA_TOKEN_TTL_SEC * 1000,
          spent_at: null,
          checking_until: null,
        },
        nowMs - MFA_TOKEN_TTL_SEC * 1000,
      )
      return { token, expiresIn: MFA_TOKEN_TTL_SEC }
    },

    /** The token's row if it can still be used: unspent, unexpired, tries left. */
    async findLive(token: string): Promise<MfaTokenRow | undefined> {
      const row = await findMfaToken(db, sha256Hex(token))
      const nowMs = now()
      if (!row || row.spent_at !== null || row.expires_at <= nowMs) return undefined
      return row.attempts < MFA_TOKEN_MAX_ATTEMPTS ? row : undefined
    },

    /**
     * Takes a try and holds the token before a code is checked; undefined when the token is
     * dead. A check of the same token already running (a double submit, a second tab) is
     * waited for: had both codes been checked at once, the loser's would be used up (a
     * backup code gone, a TOTP step burnt) for a token the winner spent.
     */
    async hold(token: string): Promise<MfaTokenHold | undefined> {
      const tokenHash = sha256Hex(token)
      for (let waited = 0; ; waited += POLL_MS) {
        const nowMs = now()
        const holdUntil = nowMs + HOLD_MS
        const verdict = await holdMfaToken(db, tokenHash, nowMs, MFA_TOKEN_MAX_ATTEMPTS, holdUntil)
        if (verdict === 'dead') return undefined
        if (verdict === 'held')
          return {
            spend: () => spendMfaToken(db, tokenHash, now()),
            release: () => releaseMfaToken(db, tokenHash, holdUntil),
          }
        // Polled, not notified, so a check on another instance is waited for too.
        if (waited >= WAIT_MS) return undefined
        await new Promise((resolve) => setTimeout(resolve, POLL_MS))
      }
    },
  }
}
