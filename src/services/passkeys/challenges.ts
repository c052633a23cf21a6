import type { Db } from '../../store/db.js'
import {
  consumeChallengeById,
  consumeChallengeByValue,
  insertChallenge,
  type ChallengePurpose,
} from '../../store/repositories/webauthn-challenges.js'
import { newId } from '../ids.js'
import type { Clock, Random } from '../ports.js'
import { decodeClientData } from './library.js'

/** SPEC §4.9: a challenge lives 5 minutes; the browser's prompt times out with it. */
export const CHALLENGE_TTL_SEC = 300

export type PasskeyChallenges = ReturnType<typeof createPasskeyChallenges>

/**
 * The random challenges a passkey signs. Stored in the database rather than in memory, so
 * the instance that verifies need not be the one that issued, and spent by a conditional
 * update, so a response is accepted once however many instances see it.
 */
export function createPasskeyChallenges(deps: { db: Db; clock: Clock; random: Random }) {
  const { db, clock, random } = deps
  const now = () => clock.now().getTime()

  return {
    async issue(
      purpose: ChallengePurpose,
      userId: string | null,
    ): Promise<{ id: string; challenge: Uint8Array<ArrayBuffer> }> {
      // WebAuthn §13.4.3: at least 16 random bytes; 32 as the library's own default.
      const bytes = new Uint8Array(random.bytes(32))
      const id = newId(random)
      const nowMs = now()
      await insertChallenge(
        db,
        {
          id,
          purpose,
          user_id: userId,
          challenge: Buffer.from(bytes).toString('base64url'),
          created_at: nowMs,
          expires_at: nowMs + CHALLENGE_TTL_SEC * 1000,
          used_at: null,
        },
        nowMs - CHALLENGE_TTL_SEC * 1000,
      )
      return { id, challenge: bytes }
    },

    /** The challenge value of a passwordless login, spent now; undefined when dead. */
    async consumeById(id: string, purpose: ChallengePurpose): Promise<string | undefined> {
      return (await consumeChallengeById(db, id, purpose, now()))?.challenge
    },

    /**
     * Spends the challenge a response answers (read from its clientDataJSON) if it is a live
     * one issued to this user for this purpose; returns it, or undefined.
     */
    async consumeAnswered(
      clientDataJSON: string,
      purpose: ChallengePurpose,
      userId: string,
    ): Promise<string | undefined> {
      const challenge = challengeIn(clientDataJSON)
      if (challenge === undefined) return undefined
      return (await consumeChallengeByValue(db, challenge, purpose, userId, now()))
        ? challenge
        : undefined
    },
  }
}

/** The challenge named by a client's clientDataJSON, if it is shaped like one of ours. */
function challengeIn(clientDataJSON: string): string | undefined {
  try {
    const { challenge } = decodeClientData(clientDataJSON)
    return typeof challenge === 'string' && /^[A-Za-z0-9_-]{16,64}$/.test(challenge)
      ? challenge
      : undefined
  } catch {
    return undefined
  }
}
