import { describe, expect, it } from 'vitest'
import { GatehouseError } from '../../src/services/errors.js'
import { centsToPrice, priceToCents } from '../../src/services/products/price.js'

describe('priceToCents', () => {
  it.each([
    [0, 0],
    [0.01, 1],
    [0.1, 10],
    [1.1, 110],
    [19.99, 1999],
    [4.35, 435], // 4.35 * 100 is 434.99999999999994 in floating point
    [1.005e2, 10050],
    [999999999999.99, 99999999999999],
  ])('%d → %d cents, and back', (price, cents) => {
    expect(priceToCents(price)).toBe(cents)
    expect(centsToPrice(cents)).toBe(price)
  })

  it.each([-1, -0.01, 1.999, 0.001, 1e-7, 1e21, 1e13, Infinity, -Infinity, NaN])(
    'refuses %d with validation_error naming price',
    (price) => {
      const attempt = () => priceToCents(price)
      expect(attempt).toThrow(GatehouseError)
      expect(attempt).toThrow(/^price: /)
    },
  )
})
