import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  commonPasswordCount,
  compactWordList,
  isCommonPassword,
} from '../../src/services/accounts/common-passwords.js'
import { checkPassword, checkUsername } from '../../src/services/accounts/password-policy.js'

const opts = { minLength: 12 }

describe('checkPassword', () => {
  it.each([
    ['short', 'password must be at least 12 characters'],
    ['elevenchars', 'password must be at least 12 characters'],
    // 11 emoji are 22 UTF-16 units but 11 code points, so still too short.
    ['🔑'.repeat(11), 'password must be at least 12 characters'],
    ['a'.repeat(1025), 'password must be at most 1024 characters'],
    ['correct horse\0battery', 'password must not contain NUL characters'],
  ])('refuses %j', (pw, reason) => {
    expect(checkPassword(pw, opts)).toEqual({ ok: false, reason })
  })

  it.each([
    ['twelve chars', 'exactly 12'],
    ['🔑'.repeat(12), '12 emoji counted as 12'],
    ['ключ-от-двери', 'Cyrillic'],
    ['x9'.repeat(64), '128 characters'],
    ['correct horse battery staple '.repeat(35).slice(0, 1024), '1024 characters'],
  ])('accepts %j (%s)', (pw) => {
    expect(checkPassword(pw, opts)).toEqual({ ok: true })
  })

  it('honours a different minimum', () => {
    expect(checkPassword('sixteen-chars-ok', { minLength: 16 })).toEqual({ ok: true })
    expect(checkPassword('fifteen-chars!!', { minLength: 16 })).toEqual({
      ok: false,
      reason: 'password must be at least 16 characters',
    })
  })

  it.each([
    'password123',
    'PASSWORD123',
    'Password1234',
    'qwertyuiop123',
    '1Q2W3E4R5T6Y',
    'passwordpassword',
    // What a guesser tries first: spaces and invisible characters add nothing.
    ' password1234 ',
    'pass word 1234',
    '\u200bpassword1234\u200b',
    ' '.repeat(12),
    '\u200b'.repeat(12),
    '\u202e'.repeat(12),
  ])('refuses the common password %j', (pw) => {
    expect(checkPassword(pw, { minLength: 8 })).toEqual({
      ok: false,
      reason: 'password is too common',
    })
  })

  it.each([
    ['alice.wonderland', 'alice.wonderland'],
    ['Alice.Wonderland', 'alice.wonderland'],
    ['alice.wonderland', 'ALICE.WONDERLAND'],
    [' alice.wonderland ', 'alice.wonderland'],
  ])('refuses %j as the password of %j', (pw, username) => {
    expect(checkPassword(pw, { ...opts, username })).toEqual({
      ok: false,
      reason: 'password must not equal the username',
    })
  })

  it('does not impose composition rules', () => {
    expect(checkPassword('all lower case words here', opts)).toEqual({ ok: true })
  })
})

describe('common password list', () => {
  it('holds at least 10,000 entries', () => {
    expect(commonPasswordCount()).toBeGreaterThanOrEqual(10_000)
  })

  it('finds exactly the words of a list, whatever their case', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string()), fc.array(fc.string()), (words, probes) => {
        const list = compactWordList(words)
        const expected = new Set(words.map((w) => w.toLowerCase()))
        expect(list.size).toBe(expected.size)
        for (const probe of [...words, ...probes, ...words.map((w) => `${w}x`)])
          expect(list.has(probe.toUpperCase())).toBe(
            expected.has(probe.toUpperCase().toLowerCase()),
          )
      }),
    )
  })

  it('compares case-insensitively', () => {
    expect(isCommonPassword('123456')).toBe(true)
    expect(isCommonPassword('PaSsWoRd')).toBe(true)
    expect(isCommonPassword('violet tractor mumbles quietly')).toBe(false)
  })
})

describe('checkUsername', () => {
  it.each(['abc', 'alice', 'Bob_Smith-2', 'j.doe', 'a'.repeat(64), '___', '0.1'])(
    'accepts %j',
    (u) => {
      expect(checkUsername(u)).toEqual({ ok: true })
    },
  )

  it.each([
    ['ab', 'username must be 3 to 64 characters'],
    ['', 'username must be 3 to 64 characters'],
    ['a'.repeat(65), 'username must be 3 to 64 characters'],
    ['alice smith', 'username may contain only letters A-Z, digits and the characters . _ -'],
    ['alice@example.com', 'username may contain only letters A-Z, digits and the characters . _ -'],
    ['jürgen', 'username may contain only letters A-Z, digits and the characters . _ -'],
    ['bob\0', 'username may contain only letters A-Z, digits and the characters . _ -'],
  ])('refuses %j', (u, reason) => {
    expect(checkUsername(u)).toEqual({ ok: false, reason })
  })
})
