import { KeyObject, sign, type webcrypto } from 'node:crypto'
import { errors as joseErrors, jwtVerify, type JWTPayload } from 'jose'
import { TtlCache } from '../cache/ttl-cache.js'
import { GatehouseError } from '../errors.js'
import { newId } from '../ids.js'
import type { Clock, Random } from '../ports.js'
import type { KeyRing } from './key-ring.js'

export interface AccessClaims {
  sub: string
  sid: string
  jti: string
  iat: number
  exp: number
  iss: string
  aud: string
  username: string
  roles: string[]
  amr: string[]
}

export interface TokenConfig {
  issuer: string
  audience: string
  accessTtlSec: number
}

export interface AccessTokens {
  issue(subject: {
    userId: string
    sessionId: string
    username: string
    roles: string[]
    amr: string[]
  }): Promise<string>
  /** Verifies signature and claims; throws `invalid_token` or `token_expired`. */
  verify(token: string): Promise<AccessClaims>
}

const CACHE_ENTRIES = 10_000

export function createAccessTokens(deps: {
  keyRing: KeyRing
  clock: Clock
  random: Random
  cfg: TokenConfig
}): AccessTokens {
  const { keyRing, clock, cfg } = deps
  // Verifying an EdDSA signature costs ~10x a whole bare request. The same token is sent
  // many times during its short life, so remember tokens that verified, keyed by the exact
  // string; an entry never outlives the token's `exp`.
  const verified = new TtlCache<string, AccessClaims>(CACHE_ENTRIES)

  async function verifyUncached(token: string): Promise<AccessClaims> {
    try {
      const { payload } = await jwtVerify(
        token,
        async (header) => {
          const key = header.kid ? await keyRing.verificationKey(header.kid) : undefined
          if (!key) throw new GatehouseError('invalid_token', { detail: 'unknown signing key' })
          return key
        },
        {
          issuer: cfg.issuer,
          audience: cfg.audience,
          algorithms: ['EdDSA'],
          currentDate: clock.now(),
          requiredClaims: ['sub', 'sid', 'jti', 'iat', 'exp'],
        },
      )
      return toClaims(payload)
    } catch (err) {
      if (err instanceof GatehouseError) throw err
      if (err instanceof joseErrors.JWTExpired) {
        throw new GatehouseError('token_expired', { detail: 'the access token has expired' })
      }
      throw new GatehouseError('invalid_token', { detail: 'the access token is not valid' })
    }
  }

  return {
    async issue(subject) {
      const { kid, privateKey } = await keyRing.signingKey()
      const nowSec = Math.floor(clock.now().getTime() / 1000)
      return signCompactJws({ alg: 'EdDSA', kid, typ: 'at+jwt' }, privateKey, {
        sid: subject.sessionId,
        username: subject.username,
        roles: subject.roles,
        amr: subject.amr,
        iss: cfg.issuer,
        aud: cfg.audience,
        sub: subject.userId,
        jti: newId(deps.random),
        iat: nowSec,
        exp: nowSec + cfg.accessTtlSec,
      })
    },

    async verify(token) {
      const nowMs = clock.now().getTime()
      const cached = verified.get(token, nowMs)
      if (cached) return cached
      const claims = await verifyUncached(token)
      verified.set(token, claims, claims.exp * 1000)
      return claims
    },
  }
}

const keyObjects = new WeakMap<webcrypto.CryptoKey, KeyObject>()

/**
 * A compact JWS (RFC 7515 §7.1) signed with Ed25519 by node:crypto. Written here rather than
 * with jose's SignJWT because jose signs through WebCrypto, whose jobs queue on libuv's thread
 * pool: under login load argon2 keeps every thread of that pool busy, so each login's token
 * waited for a hash to finish, and the job machinery cost more CPU than the signature itself.
 * node:crypto signs synchronously in ~30 µs. Verification stays with jose.
 */
function signCompactJws(header: object, key: webcrypto.CryptoKey, payload: object): string {
  let keyObject = keyObjects.get(key)
  if (!keyObject) {
    keyObject = KeyObject.from(key)
    keyObjects.set(key, keyObject)
  }
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const input = `${part(header)}.${part(payload)}`
  return `${input}.${sign(null, Buffer.from(input), keyObject).toString('base64url')}`
}

function toClaims(p: JWTPayload): AccessClaims {
  const strings = (v: unknown) =>
    Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined
  const roles = strings(p.roles)
  const amr = strings(p.amr)
  if (
    typeof p.sub !== 'string' ||
    typeof p.sid !== 'string' ||
    typeof p.jti !== 'string' ||
    typeof p.username !== 'string' ||
    typeof p.iat !== 'number' ||
    typeof p.exp !== 'number' ||
    typeof p.iss !== 'string' ||
    typeof p.aud !== 'string' ||
    !roles ||
    !amr
  ) {
    throw new GatehouseError('invalid_token', { detail: 'the access token is missing claims' })
  }
  return {
    sub: p.sub,
    sid: p.sid,
    jti: p.jti,
    iat: p.iat,
    exp: p.exp,
    iss: p.iss,
    aud: p.aud,
    username: p.username,
    roles,
    amr,
  }
}
