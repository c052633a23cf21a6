import { createHash } from 'node:crypto'
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server'
import { sha256Hex } from '../../crypto/token-digest.js'
import { decodeClientData, webauthnLibrary } from './library.js'
import type { Db } from '../../store/db.js'
import {
  findCredentialByHash,
  listCredentials,
  recordCredentialUse,
  type CredentialRow,
} from '../../store/repositories/webauthn-credentials.js'
import type { AuditLog, RequestContext } from '../audit/audit-log.js'
import type { Clock } from '../ports.js'
import { CHALLENGE_TTL_SEC, type PasskeyChallenges } from './challenges.js'
import { parseTransports, userHandleOf, type PasskeyConfig } from './config.js'

/** Why an assertion was refused, for the audit log (the client always hears invalid_code). */
export type AssertionRefusal =
  | 'challenge' // unknown, spent or expired
  | 'credential' // unknown, removed, or another user's
  | 'origin'
  | 'rp_id'
  | 'response' // malformed, wrong type or a bad signature
  | 'user_verification'
  | 'counter'

export type AssertionVerdict = { ok: true } | { ok: false; reason: AssertionRefusal }

export type PasskeyAssertions = ReturnType<typeof createPasskeyAssertions>

/** Signing in with a passkey: options to sign, and the check of what was signed (SPEC §4.9). */
export function createPasskeyAssertions(deps: {
  db: Db
  clock: Clock
  audit: AuditLog
  challenges: PasskeyChallenges
  cfg: PasskeyConfig
}) {
  const { db, clock, audit, challenges, cfg } = deps
  const rpIdHash = createHash('sha256').update(cfg.rpId).digest()

  /** After the library refused: which of our expectations the response missed. */
  function diagnose(response: AuthenticationResponseJSON): AssertionRefusal {
    try {
      const { origin } = decodeClientData(response.response.clientDataJSON)
      if (typeof origin !== 'string' || !cfg.origins.includes(origin)) return 'origin'
      const authData = Buffer.from(response.response.authenticatorData, 'base64url')
      if (authData.length >= 32 && !authData.subarray(0, 32).equals(rpIdHash)) return 'rp_id'
    } catch {
      // Unparseable: a malformed response.
    }
    return 'response'
  }

  /**
   * Checks a response against a challenge already spent and the credential it names. The
   * counter is checked here, not by the library, so that only a valid signature can report
   * (and audit) a regression: WebAuthn §6.1.1, a counter that does not grow may mean a cloned
   * authenticator; 0 on both sides is an authenticator that does not count.
   */
  async function check(
    credential: CredentialRow,
    expectedChallenge: string,
    response: AuthenticationResponseJSON,
    requireUserVerification: boolean,
    context: RequestContext,
  ): Promise<AssertionVerdict> {
    let info
    try {
      const { verifyAuthenticationResponse } = await webauthnLibrary()
      const verdict = await verifyAuthenticationResponse({
        response,
        expectedChallenge,
        expectedOrigin: [...cfg.origins],
        expectedRPID: cfg.rpId,
        credential: {
          id: credential.credential_id,
          publicKey: new Uint8Array(Buffer.from(credential.public_key, 'base64url')),
          counter: 0,
          transports: parseTransports(credential.transports),
        },
        requireUserVerification: false,
      })
      if (!verdict.verified) return { ok: false, reason: 'response' }
      info = verdict.authenticationInfo
    } catch {
      return { ok: false, reason: diagnose(response) }
    }
    if (requireUserVerification && !info.userVerified)
      return { ok: false, reason: 'user_verification' }
    const received = info.newCounter
    const regressed = (received > 0 || credential.counter > 0) && received <= credential.counter
    // The conditional write also refuses a counter another verification raised meanwhile.
    if (
      regressed ||
      !(await recordCredentialUse(db, credential.id, received, clock.now().getTime()))
    ) {
      await audit.record({
        event: 'passkey_counter_regressed',
        outcome: 'failure',
        userId: credential.user_id,
        details: { passkey_id: credential.id, stored: credential.counter, received },
        context,
      })
      return { ok: false, reason: 'counter' }
    }
    return { ok: true }
  }

  return {
    /** The passkey a response names, by its credential id, whoever owns it. */
    findCredential: (credentialId: string): Promise<CredentialRow | undefined> =>
      findCredentialByHash(db, sha256Hex(credentialId)),

    /** Options for a second factor: this user's passkeys. */
    async optionsForUser(userId: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
      const credentials = await listCredentials(db, userId)
      const { challenge } = await challenges.issue('mfa', userId)
      const { generateAuthenticationOptions } = await webauthnLibrary()
      return generateAuthenticationOptions({
        rpID: cfg.rpId,
        challenge,
        timeout: CHALLENGE_TTL_SEC * 1000,
        userVerification: 'preferred',
        allowCredentials: credentials.map((c) => ({
          id: c.credential_id,
          transports: parseTransports(c.transports),
        })),
      })
    },

    /** Options for a passwordless login: no user yet, the authenticator offers its passkeys. */
    async optionsForDiscoverable(): Promise<{
      challengeId: string
      options: PublicKeyCredentialRequestOptionsJSON
    }> {
      const { id, challenge } = await challenges.issue('passkey', null)
      const { generateAuthenticationOptions } = await webauthnLibrary()
      const options = await generateAuthenticationOptions({
        rpID: cfg.rpId,
        challenge,
        timeout: CHALLENGE_TTL_SEC * 1000,
        // A passkey alone stands for both factors only with a PIN or biometric behind it.
        userVerification: 'required',
      })
      return { challengeId: id, options }
    },

    /** A second factor: the response must answer a live `mfa` challenge of this user. */
    async verifyForUser(
      userId: string,
      response: AuthenticationResponseJSON,
      context: RequestContext,
    ): Promise<AssertionVerdict> {
      const expected = await challenges.consumeAnswered(
        response.response.clientDataJSON,
        'mfa',
        userId,
      )
      if (expected === undefined) return { ok: false, reason: 'challenge' }
      const credential = await findCredentialByHash(db, sha256Hex(response.id))
      if (!credential || credential.user_id !== userId) return { ok: false, reason: 'credential' }
      return check(credential, expected, response, false, context)
    },

    /**
     * A passwordless login with the passkey `credential` (found by `findCredential`), which
     * must answer the challenge `challengeId`, with user verification, and carry its owner's
     * user handle (WebAuthn §7.2 step 6). The challenge is spent whatever the outcome.
     */
    async verifyPasswordless(
      challengeId: string,
      credential: CredentialRow | undefined,
      response: AuthenticationResponseJSON,
      context: RequestContext,
    ): Promise<AssertionVerdict> {
      const expected = await challenges.consumeById(challengeId, 'passkey')
      if (expected === undefined) return { ok: false, reason: 'challenge' }
      if (!credential) return { ok: false, reason: 'credential' }
      const handle = response.response.userHandle
      if (
        handle === undefined ||
        !Buffer.from(handle, 'base64url').equals(userHandleOf(credential.user_id))
      )
        return { ok: false, reason: 'credential' }
      return check(credential, expected, response, true, context)
    },
  }
}
