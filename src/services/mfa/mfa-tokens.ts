import { sha256Hex } from '../../crypto/hashing.js'
import { randomToken } from '../../crypto/random.js'
import type { Db } from '../../store/db.js'
import {
  findMfaToken,
  insertMfaToken,
  spendMfaToken,
  takeMfaAttempt,
  type MfaTokenRow,
} from '../../store/repositories/mfa-tokens.js'
import type { Clock, Random } from '../ports.js'

export const MFA_TOKEN_TTL_SEC = 300
export const MFA_TOKEN_MAX_ATTEMPTS = 5

export type MfaTokens = ReturnType<typeof createMfaTokens>

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

    /** Takes a try before a code is checked; false when the token is dead. */
    takeAttempt: (token: string) =>
      takeMfaAttempt(db, sha256Hex(token), now(), MFA_TOKEN_MAX_ATTEMPTS),

    /** Spends the token after a right code; false when another request spent it first. */
    spend: (token: string) => spendMfaToken(db, sha256Hex(token), now()),
  }
}
