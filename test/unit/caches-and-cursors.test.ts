import { describe, expect, it } from 'vitest'
import { findIllFormed } from '../../src/http/nul-guard.js'
import { TtlCache } from '../../src/services/cache/ttl-cache.js'
import { createCursorCodec } from '../../src/services/pagination.js'

describe('TtlCache', () => {
  it('never returns an entry at or after its expiry', () => {
    const cache = new TtlCache<string, number>(10)
    cache.set('a', 1, 1000)
    expect(cache.get('a', 999)).toBe(1)
    expect(cache.get('a', 1000)).toBeUndefined()
    expect(cache.size).toBe(0)
  })

  it('evicts the oldest entry when full, so memory stays bounded', () => {
    const cache = new TtlCache<string, number>(2)
    cache.set('a', 1, 10_000)
    cache.set('b', 2, 10_000)
    cache.set('c', 3, 10_000)
    expect(cache.get('a', 0)).toBeUndefined()
    expect(cache.get('b', 0)).toBe(2)
    expect(cache.get('c', 0)).toBe(3)
    expect(cache.size).toBe(2)
  })
})

describe('cursor codec', () => {
  const codec = createCursorCodec(Buffer.alloc(32, 1), 'users')

  it('round-trips a position', () => {
    expect(codec.decode(codec.encode({ c: 5, i: 'abc' }))).toEqual({ c: 5, i: 'abc' })
  })

  it.each([
    ['garbage', 'not-a-cursor'],
    ['empty', ''],
    ['extra part', 'a.b.c'],
    [
      'forged position',
      `${Buffer.from('{"c":1,"i":"x"}').toString('base64url')}.AAAAAAAAAAAAAAAAAAAAAA`,
    ],
  ])('rejects a %s cursor with validation_error', (_label, cursor) => {
    expect(() => codec.decode(cursor)).toThrow(
      expect.objectContaining({ code: 'validation_error' }),
    )
  })

  it('rejects any change to a cursor, also one that decodes to the same bytes', () => {
    const cursor = codec.encode({ c: 5, i: 'abc' })
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const last = alphabet.indexOf(cursor.at(-1)!)
    // 16 bytes end on a character whose 4 low bits carry nothing.
    const sameBytes = `${cursor.slice(0, -1)}${alphabet[last ^ 1]}`
    expect(Buffer.from(sameBytes.split('.')[1]!, 'base64url')).toEqual(
      Buffer.from(cursor.split('.')[1]!, 'base64url'),
    )
    for (const changed of [sameBytes, `${cursor}==`])
      expect(() => codec.decode(changed)).toThrow(
        expect.objectContaining({ code: 'validation_error' }),
      )
  })

  it('rejects a cursor signed under another key', () => {
    const other = createCursorCodec(Buffer.alloc(32, 2), 'users')
    expect(() => codec.decode(other.encode({ c: 1 }))).toThrow(
      expect.objectContaining({ code: 'validation_error' }),
    )
  })

  it("rejects another list's cursor, whose position means something else here", () => {
    const products = createCursorCodec(Buffer.alloc(32, 1), 'products')
    expect(() => codec.decode(products.encode({ c: 1, i: 'abc' }))).toThrow(
      expect.objectContaining({ code: 'validation_error' }),
    )
  })
})

describe('findIllFormed', () => {
  it.each([
    [{ a: 'x\u0000' }, 'a'],
    [{ a: { b: ['ok', 'n\u0000'] } }, 'a.b.1'],
    [{ 'k\u0000': 'v' }, ''],
    ['\u0000', ''],
  ])('finds NUL in %j at %j', (value, path) => {
    expect(findIllFormed(value, '')).toEqual({ path, reason: 'must not contain NUL characters' })
  })

  it.each([
    [{ username: '\ud800' }, 'username'],
    [{ a: ['x\udfffy'] }, 'a.0'],
    [{ a: 'end\udbff' }, 'a'],
    [{ '\udc00': 'v' }, ''],
  ])('finds a lone surrogate in %j at %j', (value, path) => {
    expect(findIllFormed(value, '')?.path).toBe(path)
    expect(findIllFormed(value, '')?.reason).toContain('lone surrogate')
  })

  it('passes clean values, astral characters (surrogate pairs) included', () => {
    expect(findIllFormed({ a: ['b', { c: 1, d: null }], e: '🔒 ok 𝒜' }, '')).toBeUndefined()
  })
})
