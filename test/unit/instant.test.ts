import { describe, expect, it } from 'vitest'
import { parseBound, parseInstant } from '../../src/services/audit/instant.js'

describe('parseInstant (audit log bounds)', () => {
  it.each([
    ['2026-12-03T10:15:30Z', '2026-12-03T10:15:30.000Z'],
    ['2026-12-03t10:15:30.25z', '2026-12-03T10:15:30.250Z'],
    ['2026-12-03 10:15:30+01:00', '2026-12-03T09:15:30.000Z'],
    ['2026-12-03T23:30:00-05:00', '2026-12-04T04:30:00.000Z'],
    ['2026-12-03', '2026-12-03T00:00:00.000Z'],
    ['2024-02-29', '2024-02-29T00:00:00.000Z'],
  ])('reads %s', (text, iso) => {
    expect(parseInstant(text)?.toISOString()).toBe(iso)
  })

  it.each([
    'yesterday',
    '1',
    'May 3',
    '2026-12-03T10:15:30',
    '2026-02-30',
    '2025-02-29T00:00:00Z',
    '2026-13-01',
    '2026-12-03T24:00:00Z',
    '2020-01-01T23:59:60Z',
    '2026-12-03T10:15:30Z ',
  ])('refuses %j', (text) => {
    expect(parseInstant(text)).toBeUndefined()
  })
})

describe('parseBound', () => {
  it('ends a date alone at its last millisecond, and leaves a time as it is', () => {
    expect(parseBound('2026-12-03', 'end')?.toISOString()).toBe('2026-12-03T23:59:59.999Z')
    expect(parseBound('2026-12-03', 'start')?.toISOString()).toBe('2026-12-03T00:00:00.000Z')
    expect(parseBound('2026-12-03T10:00:00Z', 'end')?.toISOString()).toBe(
      '2026-12-03T10:00:00.000Z',
    )
    expect(parseBound('May 3', 'end')).toBeUndefined()
  })
})
