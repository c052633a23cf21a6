import { GatehouseError } from '../errors.js'

/** The largest price we store: its cents stay an exact integer in every driver and in JSON. */
export const MAX_PRICE_CENTS = 99_999_999_999_999 // 999,999,999,999.99

/**
 * A JSON number with at most two decimals, as integer cents, without floating-point arithmetic:
 * `19.99 * 100` is 1998.9999999999998, but the shortest decimal text of 19.99 is "19.99", and
 * that text is what the client wrote. Anything else (negative, three decimals, exponents,
 * Infinity) is a validation_error naming the field.
 */
export function priceToCents(price: number, field = 'price'): number {
  const text = Number.isFinite(price) ? String(price) : ''
  const match = /^([0-9]+)(?:\.([0-9]{1,2}))?$/.exec(text)
  if (!match) {
    throw new GatehouseError('validation_error', {
      detail: `${field}: must be a number ≥ 0 with at most two decimals`,
    })
  }
  const cents = Number(match[1]) * 100 + Number((match[2] ?? '').padEnd(2, '0'))
  if (!Number.isSafeInteger(cents) || cents > MAX_PRICE_CENTS) {
    throw new GatehouseError('validation_error', {
      detail: `${field}: must be at most ${MAX_PRICE_CENTS / 100}`,
    })
  }
  return cents
}

/** Cents back to the JSON number: one division of exact integers gives the nearest double. */
export function centsToPrice(cents: number): number {
  return cents / 100
}
