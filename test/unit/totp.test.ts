import { describe, expect, it } from 'vitest'
import { cryptoRandom } from '../../src/crypto/random.js'
import {
  base32Of,
  fromBase32,
  matchTotpStep,
  newTotpSecret,
  otpauthUrl,
  totpCodeAt,
  totpStepAt,
} from '../../src/services/mfa/totp.js'

// RFC 6238 Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890".
const RFC_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'

describe('TOTP (RFC 6238)', () => {
  it('encodes the RFC seed as the base32 secret used below', () => {
    expect(Buffer.from('12345678901234567890').toString('hex')).toBe(
      '3132333435363738393031323334353637383930',
    )
    expect(Buffer.from(base32Of(Buffer.from('12345678901234567890')))).toEqual(
      Buffer.from(RFC_SECRET),
    )
  })

  it.each([
    [59, '94287082'],
    [1111111109, '07081804'],
    [1111111111, '14050471'],
    [1234567890, '89005924'],
    [2000000000, '69279037'],
    [20000000000, '65353130'],
  ])('matches the RFC 6238 SHA-1 test vector at T=%i (%s)', (seconds, expected) => {
    expect(totpCodeAt(RFC_SECRET, seconds * 1000, 8)).toBe(expected)
    // Six digits are the same truncation mod 10^6.
    expect(totpCodeAt(RFC_SECRET, seconds * 1000)).toBe(expected.slice(2))
    expect(matchTotpStep(RFC_SECRET, expected.slice(2), seconds * 1000)).toBe(
      Math.floor(seconds / 30),
    )
  })

  it('accepts one step either side and nothing further (RFC 6238 §5.2)', () => {
    const now = 1_700_000_000_000
    const step = totpStepAt(now)
    for (const offset of [-1, 0, 1]) {
      const code = totpCodeAt(RFC_SECRET, now + offset * 30_000)
      expect(matchTotpStep(RFC_SECRET, code, now)).toBe(step + offset)
    }
    for (const offset of [-3, -2, 2, 3]) {
      const code = totpCodeAt(RFC_SECRET, now + offset * 30_000)
      // A far code could collide with a near one by chance; the vectors here do not.
      expect(matchTotpStep(RFC_SECRET, code, now)).toBeNull()
    }
  })

  it.each(['', '12345', '1234567', '12345a', ' 123456', '１２３４５６', '123 456'])(
    'refuses the malformed code %j',
    (code) => {
      expect(matchTotpStep(RFC_SECRET, code, 59_000)).toBeNull()
    },
  )

  it('makes 160-bit secrets, different every time', () => {
    const a = newTotpSecret(cryptoRandom)
    const b = newTotpSecret(cryptoRandom)
    expect(a).toMatch(/^[A-Z2-7]{32}$/) // 32 base32 characters = 160 bits
    expect(a).not.toBe(b)
  })

  it('builds the otpauth URL exactly as SPEC §4.4 writes it', () => {
    expect(otpauthUrl({ issuer: 'Gatehouse', account: 'alice', secret: RFC_SECRET })).toBe(
      `otpauth://totp/Gatehouse:alice?secret=${RFC_SECRET}&issuer=Gatehouse&algorithm=SHA1&digits=6&period=30`,
    )
  })

  it('escapes an issuer and account that need it', () => {
    const url = otpauthUrl({ issuer: 'Acme & Co', account: 'bob.smith', secret: RFC_SECRET })
    expect(url).toBe(
      `otpauth://totp/Acme%20%26%20Co:bob.smith?secret=${RFC_SECRET}&issuer=Acme%20%26%20Co&algorithm=SHA1&digits=6&period=30`,
    )
  })

  it('treats a secret as bytes (the TOTP service) and as base32 (accounts) alike', () => {
    const bytes = Buffer.from('12345678901234567890')
    expect(totpCodeAt(bytes, 59_000, 8)).toBe('94287082')
    expect(matchTotpStep(bytes, totpCodeAt(RFC_SECRET, 59_000), 59_000)).toBe(1)
    expect(otpauthUrl({ issuer: 'Gatehouse', account: 'alice', secret: bytes })).toContain(
      `secret=${RFC_SECRET}&`,
    )
  })

  it('reads base32 as authenticator apps show it, and refuses what is not base32', () => {
    const spaced = RFC_SECRET.toLowerCase().replace(/(.{4})/g, '$1 ')
    expect(fromBase32(spaced)).toEqual(Buffer.from('12345678901234567890'))
    expect(fromBase32(`${RFC_SECRET}====`)).toEqual(Buffer.from('12345678901234567890'))
    expect(fromBase32('not base32!')).toBeUndefined()
    expect(fromBase32('01890189')).toBeUndefined()
  })
})
