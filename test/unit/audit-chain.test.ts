import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  canonicalJson,
  chainHash,
  GENESIS_HASH,
  toChainRecord,
} from '../../src/services/audit/chain.js'

describe('canonical JSON (RFC 8785 for audit rows)', () => {
  it.each([
    [null, 'null'],
    [true, 'true'],
    [0, '0'],
    [-0, '0'],
    [1e21, '1e+21'],
    [0.1, '0.1'],
    ['a"b\\c', '"a\\"b\\\\c"'],
    ['é€😀', '"é€😀"'],
    ['\u2028', '"\u2028"'],
    [[3, 'x', null], '[3,"x",null]'],
    [{ b: 1, a: 2 }, '{"a":2,"b":1}'],
    [{ z: { y: [], x: {} }, A: 'up' }, '{"A":"up","z":{"x":{},"y":[]}}'],
    // Members sort by UTF-16 code units (JCS), not code points: 😀 is 0xD83D…, before U+FF5E.
    [{ '～': 1, '😀': 2, é: 3 }, '{"é":3,"😀":2,"～":1}'],
  ])('%j → %s', (value, expected) => {
    expect(canonicalJson(value as never)).toBe(expected)
  })

  it('refuses what JSON cannot say', () => {
    expect(() => canonicalJson(Number.NaN)).toThrow(/NaN/)
    expect(() => canonicalJson(Number.POSITIVE_INFINITY)).toThrow(/Infinity/)
  })
})

describe('the audit hash chain', () => {
  const stored = {
    id: 7,
    time: Date.UTC(2026, 0, 2, 3, 4, 5, 6),
    event: 'login_failed',
    outcome: 'failure',
    user_id: null,
    username: 'nobody',
    ip: '198.51.100.9',
    user_agent: 'curl/8',
    actor_id: null,
    details: '{"reason":"unknown_user"}',
  }

  it('sees a row as its exported record', () => {
    expect(toChainRecord(stored)).toEqual({
      id: '7',
      time: '2026-01-02T03:04:05.006Z',
      event: 'login_failed',
      outcome: 'failure',
      user_id: null,
      username: 'nobody',
      ip: '198.51.100.9',
      user_agent: 'curl/8',
      actor_id: null,
      details: { reason: 'unknown_user' },
    })
    expect(() => toChainRecord({ ...stored, details: '[1]' })).toThrow(/not a JSON object/)
    expect(() => toChainRecord({ ...stored, details: '{' })).toThrow()
  })

  it('is SHA-256 over the previous hash bytes and the canonical row', () => {
    const record = toChainRecord(stored)
    const text =
      '{"actor_id":null,"details":{"reason":"unknown_user"},"event":"login_failed","id":"7",' +
      '"ip":"198.51.100.9","outcome":"failure","time":"2026-01-02T03:04:05.006Z",' +
      '"user_agent":"curl/8","user_id":null,"username":"nobody"}'
    expect(canonicalJson(record as never)).toBe(text)
    const expected = createHash('sha256')
      .update(Buffer.concat([Buffer.alloc(32), Buffer.from(text, 'utf8')]))
      .digest('hex')
    expect(chainHash(GENESIS_HASH, record)).toBe(expected)
  })

  it('changes with every field, the order and the link', () => {
    const first = toChainRecord(stored)
    const h1 = chainHash(GENESIS_HASH, first)
    const fields = ['id', 'time', 'event', 'username', 'ip', 'user_agent'] as const
    for (const field of fields)
      expect(chainHash(GENESIS_HASH, { ...first, [field]: `${first[field] ?? ''}x` })).not.toBe(h1)
    expect(chainHash(GENESIS_HASH, { ...first, details: { reason: 'x' } })).not.toBe(h1)
    expect(chainHash(h1, first)).not.toBe(h1)
    expect(chainHash('f'.repeat(64), first)).not.toBe(h1)
  })
})
