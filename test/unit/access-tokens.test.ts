import { KeyObject, sign, webcrypto } from 'node:crypto'
import { beforeAll, describe, expect, it } from 'vitest'
import { cryptoRandom } from '../../src/crypto/random.js'
import { createAccessTokens, type AccessTokens } from '../../src/services/tokens/access-tokens.js'
import type { KeyRing } from '../../src/services/tokens/key-ring.js'
import { fakeClock } from '../support/clock.js'

/**
 * Access tokens are checked by hand with node:crypto (access-tokens.ts says why), so each rule
 * a library would have applied is pinned here: the signature, the algorithm and key type, the
 * token type, `crit`, issuer, audience, `nbf` and `exp` to the second.
 */

const cfg = { issuer: 'https://id.example', audience: 'gatehouse', accessTtlSec: 600 }
const subject = {
  userId: 'usr_1',
  sessionId: 'ses_1',
  username: 'alice',
  roles: ['user'],
  amr: ['pwd'],
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

describe('access tokens', () => {
  const clock = fakeClock()
  const keys = new Map<string, webcrypto.CryptoKey>()
  let tokens: AccessTokens
  let edPrivate: KeyObject
  let rsaPrivate: KeyObject

  /** A compact JWS over any header and payload, signed with the ring's Ed25519 key. */
  function forge(header: Record<string, unknown>, payload: unknown, key: KeyObject = edPrivate) {
    const input = `${b64(header)}.${b64(payload)}`
    const signature = sign(
      key.asymmetricKeyType === 'rsa' ? 'sha256' : null,
      Buffer.from(input),
      key,
    )
    return `${input}.${signature.toString('base64url')}`
  }
  const claims = (extra: Record<string, unknown> = {}) => {
    const now = Math.floor(clock.now().getTime() / 1000)
    return {
      sub: 'usr_1',
      sid: 'ses_1',
      jti: 'jti_1',
      username: 'alice',
      roles: ['user'],
      amr: ['pwd'],
      iss: cfg.issuer,
      aud: cfg.audience,
      iat: now,
      exp: now + 600,
      ...extra,
    }
  }
  const header = (extra: Record<string, unknown> = {}) => ({
    alg: 'EdDSA',
    kid: 'ed',
    typ: 'at+jwt',
    ...extra,
  })
  const refusal = (token: string) =>
    tokens.verify(token).then(
      () => 'accepted',
      (err: { code?: string }) => err.code,
    )

  beforeAll(async () => {
    const { subtle } = webcrypto
    const ed = (await subtle.generateKey({ name: 'Ed25519' }, true, [
      'sign',
      'verify',
    ])) as webcrypto.CryptoKeyPair
    const rsa = await subtle.generateKey(
      {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: 2048,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      },
      true,
      ['sign', 'verify'],
    )
    keys.set('ed', ed.publicKey)
    keys.set('rsa', rsa.publicKey)
    edPrivate = KeyObject.from(ed.privateKey)
    rsaPrivate = KeyObject.from(rsa.privateKey)
    const privateKey = ed.privateKey
    // Only the two calls access tokens make of a key ring.
    const keyRing = {
      signingKey: () => Promise.resolve({ kid: 'ed', privateKey }),
      verificationKey: (kid: string) => Promise.resolve(keys.get(kid)),
    } as Pick<KeyRing, 'signingKey' | 'verificationKey'> as KeyRing
    tokens = createAccessTokens({ keyRing, clock, random: cryptoRandom, cfg })
  })

  it('verifies what it issued, claims intact', async () => {
    const token = await tokens.issue(subject)
    expect(await tokens.verify(token)).toMatchObject({
      sub: 'usr_1',
      sid: 'ses_1',
      username: 'alice',
      roles: ['user'],
      amr: ['pwd'],
      iss: cfg.issuer,
      aud: cfg.audience,
    })
  })

  it('accepts a hand-made token of the right shape, with either spelling of the type', async () => {
    expect(await refusal(forge(header(), claims()))).toBe('accepted')
    expect(await refusal(forge(header({ typ: 'application/AT+JWT' }), claims()))).toBe('accepted')
    expect(await refusal(forge(header(), claims({ nbf: claims().iat })))).toBe('accepted')
  })

  it('refuses another algorithm, key type, token type or an unknown kid', async () => {
    expect(await refusal(forge(header({ alg: 'none' }), claims()))).toBe('invalid_token')
    expect(await refusal(forge(header({ typ: 'JWT' }), claims()))).toBe('invalid_token')
    expect(await refusal(forge(header({ typ: undefined }), claims()))).toBe('invalid_token')
    expect(await refusal(forge(header({ kid: 'nope' }), claims()))).toBe('invalid_token')
    expect(await refusal(forge(header({ kid: undefined }), claims()))).toBe('invalid_token')
    // An RSA key's kid with a valid RSA signature, under alg EdDSA: the key type decides.
    const rsaSigned = forge(header({ kid: 'rsa' }), claims(), rsaPrivate)
    expect(await refusal(rsaSigned)).toBe('invalid_token')
  })

  it('refuses a crit header, even one naming a known parameter', async () => {
    expect(await refusal(forge(header({ crit: ['exp'] }), claims()))).toBe('invalid_token')
  })

  it('refuses a changed payload, a changed or shortened signature, and malformed tokens', async () => {
    const [h, p, s] = (await tokens.issue(subject)).split('.') as [string, string, string]
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as object
    const flipped = Buffer.from(s, 'base64url')
    flipped[0] = (flipped[0] ?? 0) ^ 1
    for (const token of [
      `${h}.${b64({ ...payload, roles: ['admin'] })}.${s}`,
      `${h}.${p}.${flipped.toString('base64url')}`,
      `${h}.${p}.${s.slice(0, 40)}`,
      `${h}.${p}.`,
      `${h}.${p}`,
      `${h}.${p}.${s}.${s}`,
      `${h}.${p}.${s}=`,
      `${b64([1, 2])}.${p}.${s}`,
      `${h}.${Buffer.from('not json').toString('base64url')}.${s}`,
      '',
    ])
      expect(await refusal(token)).toBe('invalid_token')
  })

  it('refuses another issuer or audience, a missing claim, and a token not yet valid', async () => {
    expect(await refusal(forge(header(), claims({ iss: 'https://other.example' })))).toBe(
      'invalid_token',
    )
    expect(await refusal(forge(header(), claims({ aud: 'other' })))).toBe('invalid_token')
    expect(await refusal(forge(header(), claims({ aud: [cfg.audience] })))).toBe('invalid_token')
    expect(await refusal(forge(header(), claims({ sid: undefined })))).toBe('invalid_token')
    expect(await refusal(forge(header(), claims({ roles: 'admin' })))).toBe('invalid_token')
    const now = claims().iat
    expect(await refusal(forge(header(), claims({ nbf: now + 1 })))).toBe('invalid_token')
    expect(await refusal(forge(header(), claims({ nbf: 'now' })))).toBe('invalid_token')
  })

  it('is dead from its exp second on, with no leeway', async () => {
    const now = claims().iat
    expect(await refusal(forge(header(), claims({ exp: now + 1 })))).toBe('accepted')
    expect(await refusal(forge(header(), claims({ exp: now })))).toBe('token_expired')
    expect(await refusal(forge(header(), claims({ exp: String(now + 60) })))).toBe('invalid_token')
  })
})
