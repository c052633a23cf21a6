import type {
  PublicKeyCredentialCreationOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server'
import { sha256Hex } from '../../crypto/token-digest.js'
import { webauthnLibrary } from './library.js'
import type { Db } from '../../store/db.js'
import { withConflict } from '../../store/errors.js'
import {
  countCredentials,
  insertCredential,
  listCredentials,
  type CredentialRow,
} from '../../store/repositories/webauthn-credentials.js'
import type { ProfileReader } from '../accounts/user-profile.js'
import type { AuditLog, RequestContext } from '../audit/audit-log.js'
import { GatehouseError } from '../errors.js'
import { newId } from '../ids.js'
import type { Enroller } from '../mfa/enrolment.js'
import type { Clock, Random } from '../ports.js'
import { CHALLENGE_TTL_SEC, type PasskeyChallenges } from './challenges.js'
import {
  knownTransports,
  parseTransports,
  PASSKEY_ALGORITHMS,
  userHandleOf,
  type PasskeyConfig,
} from './config.js'
import { passkeyName, toPasskey, type Passkey } from './credentials.js'

export type PasskeyRegistration = ReturnType<typeof createPasskeyRegistration>

// 1023 bytes in base64url, without padding.
const MAX_CREDENTIAL_ID_CHARS = 1364

const refused = (detail: string) => new GatehouseError('invalid_code', { detail })

/** Adding a passkey to the signed-in account (SPEC §4.9): options, then the browser's answer. */
export function createPasskeyRegistration(deps: {
  db: Db
  clock: Clock
  random: Random
  audit: AuditLog
  profiles: ProfileReader
  challenges: PasskeyChallenges
  /** SPEC §4.2: 403 mfa_required when another factor exists and the token did not prove one. */
  assertMayEnrol: (who: Enroller) => Promise<void>
  cfg: PasskeyConfig
}) {
  const { db, clock, random, audit, profiles, challenges, cfg } = deps

  return {
    async options(who: Enroller): Promise<PublicKeyCredentialCreationOptionsJSON> {
      await deps.assertMayEnrol(who)
      const existing = await listCredentials(db, who.userId)
      const { challenge } = await challenges.issue('register', who.userId)
      const { generateRegistrationOptions } = await webauthnLibrary()
      return generateRegistrationOptions({
        rpName: cfg.rpName,
        rpID: cfg.rpId,
        userName: who.username,
        userDisplayName: who.username,
        userID: userHandleOf(who.userId),
        challenge,
        timeout: CHALLENGE_TTL_SEC * 1000,
        attestationType: 'none',
        // The same authenticator twice on one account adds nothing and confuses the list.
        excludeCredentials: existing.map((c) => ({
          id: c.credential_id,
          transports: parseTransports(c.transports),
        })),
        authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
        supportedAlgorithmIDs: PASSKEY_ALGORITHMS,
      })
    },

    /** Verifies the authenticator's answer to a live challenge and stores the passkey. */
    async verify(
      who: Enroller,
      response: RegistrationResponseJSON,
      name: string | undefined,
      context: RequestContext,
    ): Promise<Passkey> {
      await deps.assertMayEnrol(who)
      const chosenName = name === undefined ? undefined : passkeyName(name)
      const expectedChallenge = await challenges.consumeAnswered(
        response.response.clientDataJSON,
        'register',
        who.userId,
      )
      if (expectedChallenge === undefined)
        throw refused('the challenge is used, expired or unknown; ask for new options')
      let credential
      try {
        const { verifyRegistrationResponse } = await webauthnLibrary()
        const verdict = await verifyRegistrationResponse({
          response,
          expectedChallenge,
          expectedOrigin: [...cfg.origins],
          expectedRPID: cfg.rpId,
          // "preferred": an authenticator without a PIN or biometric still makes a second
          // factor; passwordless logins insist on verification at every use instead.
          requireUserVerification: false,
          supportedAlgorithmIDs: PASSKEY_ALGORITHMS,
        })
        if (!verdict.verified) throw new Error('attestation not verified')
        credential = verdict.registrationInfo.credential
        // WebAuthn §5.1: at most 1023 bytes; anything longer is not an authenticator's.
        if (credential.id.length > MAX_CREDENTIAL_ID_CHARS)
          throw new Error('credential id too long')
      } catch {
        // The library's message names what differed (origin, RP id, signature); the client
        // gets one answer, as for any wrong code.
        throw refused('the passkey response could not be verified')
      }
      const nowMs = clock.now().getTime()
      const row: CredentialRow = {
        id: newId(random),
        user_id: who.userId,
        credential_id: credential.id,
        credential_id_hash: sha256Hex(credential.id),
        public_key: Buffer.from(credential.publicKey).toString('base64url'),
        counter: credential.counter,
        transports: JSON.stringify(knownTransports(credential.transports)),
        name: chosenName ?? `Passkey ${(await countCredentials(db, who.userId)) + 1}`,
        created_at: nowMs,
        last_used_at: null,
      }
      // With its audit event (and the owner's notice) or not at all.
      await audit.change(async (trx, record) => {
        await withConflict('this passkey is already registered', () => insertCredential(trx, row))
        await record({
          event: 'passkey_registered',
          outcome: 'success',
          userId: who.userId,
          username: who.username,
          details: { passkey_id: row.id, name: row.name },
          context,
        })
      })
      profiles.changed(who.userId)
      return toPasskey(row)
    },
  }
}
