import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createSecretBox, deriveKey } from '../../src/crypto/secret-box.js'

const keyA = Buffer.alloc(32, 0xa1)
const keyB = Buffer.alloc(32, 0xb2)
const aad = 'totp_secrets.secret:user-1'

function b64urlFlip(part: string): string {
  const bytes = Buffer.from(part, 'base64url')
  bytes[0] = (bytes[0] ?? 0) ^ 0x01
  return bytes.toString('base64url')
}

function replacePart(envelope: string, index: number, value: string): string {
  const parts = envelope.split('.')
  parts[index] = value
  return parts.join('.')
}

describe('secret box', () => {
  it('round-trips strings and buffers', () => {
    const box = createSecretBox(keyA, [])
    expect(box.open(box.seal('JBSWY3DPEHPK3PXP', aad), aad).toString('utf8')).toBe(
      'JBSWY3DPEHPK3PXP',
    )
    const bytes = randomBytes(100)
    expect(box.open(box.seal(bytes, aad), aad).equals(bytes)).toBe(true)
    expect(box.open(box.seal('', aad), aad).length).toBe(0)
  })

  it('produces a v1 envelope with the current kid and a fresh IV each time', () => {
    const box = createSecretBox(keyA, [])
    const e1 = box.seal('same', aad)
    const e2 = box.seal('same', aad)
    expect(e1).toMatch(/^v1\.[0-9a-f]{8}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]{22}$/)
    expect(e1.split('.')[1]).toBe(box.currentKid)
    expect(e1).not.toBe(e2)
    expect(box.needsReseal(e1)).toBe(false)
  })

  it('refuses to open under another AAD (a ciphertext moved to another row)', () => {
    const box = createSecretBox(keyA, [])
    const env = box.seal('secret', aad)
    expect(() => box.open(env, 'totp_secrets.secret:user-2')).toThrow(Error)
    expect(() => box.open(env, 'signing_keys.private_key:user-1')).toThrow(Error)
  })

  it.each([
    ['tag', 4],
    ['ciphertext', 3],
    ['iv', 2],
  ])('refuses a tampered %s', (_name, index) => {
    const box = createSecretBox(keyA, [])
    const env = box.seal('secret', aad)
    const part = env.split('.')[index] ?? ''
    expect(() => box.open(replacePart(env, index, b64urlFlip(part)), aad)).toThrow(Error)
  })

  it.each(['', 'garbage', 'v2.abcdef01.a.b.c', 'v1.ABCDEF01.a.b.c', 'v1.abcdef01.!!.b.c'])(
    'refuses a malformed envelope %j',
    (env) => {
      const box = createSecretBox(keyA, [])
      expect(() => box.open(env, aad)).toThrow('malformed')
    },
  )

  it('refuses a truncated tag', () => {
    const box = createSecretBox(keyA, [])
    const env = box.seal('secret', aad)
    const tag = Buffer.from(env.split('.')[4] ?? '', 'base64url')
      .subarray(0, 4)
      .toString('base64url')
    expect(() => box.open(replacePart(env, 4, tag), aad)).toThrow(Error)
  })

  it('opens with an old key and reports that it needs resealing', () => {
    const before = createSecretBox(keyA, [])
    const env = before.seal('secret', aad)
    const after = createSecretBox(keyB, [keyA])
    expect(after.currentKid).not.toBe(before.currentKid)
    expect(after.open(env, aad).toString()).toBe('secret')
    expect(after.needsReseal(env)).toBe(true)
    const resealed = after.seal(after.open(env, aad), aad)
    expect(after.needsReseal(resealed)).toBe(false)
    expect(resealed.split('.')[1]).toBe(after.currentKid)
  })

  it('fails on an unknown kid without echoing key material', () => {
    const env = createSecretBox(keyA, []).seal('secret', aad)
    const other = createSecretBox(keyB, [])
    let message = ''
    try {
      other.open(env, aad)
    } catch (err) {
      message = (err as Error).message
    }
    expect(message).toMatch(/unknown key id/)
    for (const k of [keyA, keyB]) {
      expect(message).not.toContain(k.toString('hex'))
      expect(message).not.toContain(k.toString('base64'))
    }
  })

  it('derives a kid that reveals neither the key nor the sealing key', () => {
    const key = randomBytes(32)
    const box = createSecretBox(key, [])
    expect(box.currentKid).toMatch(/^[0-9a-f]{8}$/)
    expect(key.toString('hex')).not.toContain(box.currentKid)
    expect(deriveKey(key, 'gatehouse secret-box v1').toString('hex')).not.toContain(box.currentKid)
    expect(createSecretBox(key, []).currentKid).toBe(box.currentKid)
  })

  it('rejects a key that is not 32 bytes', () => {
    expect(() => createSecretBox(Buffer.alloc(16), [])).toThrow(/32 bytes/)
    expect(() => createSecretBox(keyA, [Buffer.from(keyA.toString('hex'))])).toThrow(/32 bytes/)
  })
})

describe('deriveKey', () => {
  it('is deterministic, 32 bytes, and separates purposes', () => {
    const a = deriveKey(keyA, 'gatehouse code-hash v1')
    expect(a.length).toBe(32)
    expect(deriveKey(keyA, 'gatehouse code-hash v1').equals(a)).toBe(true)
    expect(deriveKey(keyA, 'gatehouse secret-box v1').equals(a)).toBe(false)
    expect(deriveKey(keyB, 'gatehouse code-hash v1').equals(a)).toBe(false)
    expect(a.equals(keyA)).toBe(false)
  })
})
