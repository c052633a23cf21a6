import { describe, expect, it } from 'vitest'
import { createPasswordHasher } from '../../src/crypto/password-hasher.js'
import { excessiveCost, parseDerivedHash } from '../../src/crypto/imported-hashes.js'

const PASSWORD = 'correct horse battery stäple'

/**
 * Written by Werkzeug 3.1.8's generate_password_hash and by Python's hashlib in passlib's and
 * Django's formats (the tests compare with an implementation other than ours).
 */
const WRITTEN_BY_PYTHON = {
  'werkzeug pbkdf2':
    'pbkdf2:sha256:1000$Be0uN1vqEcawV9oa$42e7962eb7d8b49a955f2c25e6c6e4a86b629fa65763c5bf7cec915fdfb9bf1b',
  'werkzeug scrypt':
    'scrypt:16384:8:1$ILCYVjW4B9aj7Nxz$ce32685f549cf586e617ac51e4e35ae4974ef52a33c7470bba5182dfff735548302ca341f75b394b764167a1cbdb9c535976b38edd455700c1f1a3f3fdebef2a',
  'passlib pbkdf2-sha256':
    '$pbkdf2-sha256$29000$jx4tPEtaaXiHlqW0w9Lh8A$S89Yoh7K90D9JHLzSdNLrfucovYRiMQ.SuJLv420los',
  'passlib pbkdf2-sha512':
    '$pbkdf2-sha512$25000$jx4tPEtaaXiHlqW0w9Lh8A$g8gPBjocSZlz4UheB14USCLItCzHXcVk1HTuqJ9Wble.qeXLHKa7cWIj7EURSKdlSOPTygv51Od6pufIK6EoeQ',
  'django pbkdf2_sha256':
    'pbkdf2_sha256$870000$q1w2e3r4t5y6u7i8o9p0as$H2Ld1pgoOU5RhQfhrbxvZdXignFCVrcf9qgRSZwn9x4=',
}

describe('password hashes imported from Python services', () => {
  const hasher = createPasswordHasher()

  it.each(Object.entries(WRITTEN_BY_PYTHON))(
    '%s: the right password verifies (and is rehashed), a wrong one does not',
    async (_name, stored) => {
      expect(parseDerivedHash(stored)).toBeDefined()
      expect(excessiveCost(stored)).toBeUndefined()
      expect(await hasher.verify(stored, PASSWORD)).toEqual({ ok: true, needsRehash: true })
      expect(await hasher.verify(stored, `${PASSWORD}!`)).toEqual({ ok: false, needsRehash: false })
    },
  )

  it.each([
    ['a key of the wrong length', 'pbkdf2:sha256:1000$salt$42e7962eb7d8b49a955f2c25e6c6e4a8'],
    ['an unknown digest', 'pbkdf2:md5:1000$salt$42e7962eb7d8b49a955f2c25e6c6e4a86b629fa6'],
    [
      'no iterations',
      'pbkdf2:sha256$salt$42e7962eb7d8b49a955f2c25e6c6e4a86b629fa65763c5bf7cec915fdfb9bf1b',
    ],
    [
      'zero iterations',
      '$pbkdf2-sha256$0$jx4tPEtaaXiHlqW0w9Lh8A$S89Yoh7K90D9JHLzSdNLrfucovYRiMQ.SuJLv420los',
    ],
  ])('refuses %s', async (_why, stored) => {
    expect(parseDerivedHash(stored)).toBeUndefined()
    expect(await hasher.verify(stored, PASSWORD)).toEqual({ ok: false, needsRehash: false })
  })

  it.each([
    ['$argon2id$v=19$m=4194304,t=3,p=4$c29tZXNhbHQ$aGFzaA', /argon2 memory above/],
    ['$argon2id$v=19$m=1048576,t=8,p=1$c29tZXNhbHQ$aGFzaA', /memory × passes/],
    ['$argon2i$v=19$m=65536,t=3,p=64$c29tZXNhbHQ$aGFzaA', /parallelism/],
    ['$2b$31$' + 'a'.repeat(53), /bcrypt cost above/],
    ['pbkdf2:sha256:999999999$s$' + 'ab'.repeat(32), /PBKDF2 iterations/],
    ['scrypt:1048576:16:1$s$' + 'ab'.repeat(64), /scrypt memory above/],
    ['scrypt:1000:8:1$s$' + 'ab'.repeat(64), /not valid/],
  ])('a cost no login may spend is named (%s) and never computed', async (stored, why) => {
    expect(excessiveCost(stored)).toMatch(why)
    // A signal already aborted: had the hash gone to the hasher's line, this would throw.
    expect(await hasher.verify(stored, PASSWORD, AbortSignal.abort())).toEqual({
      ok: false,
      needsRehash: false,
    })
  })

  it('everyday costs pass', () => {
    for (const stored of [
      '$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$aGFzaA',
      '$argon2id$v=19$m=2097152,t=1,p=4$c29tZXNhbHQ$aGFzaA',
      '$2b$12$' + 'a'.repeat(53),
      ...Object.values(WRITTEN_BY_PYTHON),
    ])
      expect(excessiveCost(stored), stored).toBeUndefined()
  })
})
