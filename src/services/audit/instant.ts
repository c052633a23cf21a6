/**
 * RFC 3339's date-time (with its offset: a time without one names no instant) or its
 * full-date alone. The audit log's API and `gatehouse audit export` read their bounds
 * through this one function, so both take the same strings; `new Date` alone would also
 * take "1" (the year 2001), "May 3" or 24:00.
 */
const RFC_3339 =
  /^\d{4}-\d{2}-\d{2}(?:[Tt ](?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,9})?(?:[Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d))?$/

/** The instant `text` names (a date alone is its midnight, UTC), or undefined. */
export function parseInstant(text: string): Date | undefined {
  if (!RFC_3339.test(text)) return undefined
  const day = text.slice(0, 10)
  // Date rolls 2026-02-30 over to March 2: a day its month lacks names nothing.
  const midnight = new Date(day)
  if (Number.isNaN(midnight.getTime()) || midnight.toISOString().slice(0, 10) !== day)
    return undefined
  const date = new Date(text)
  return Number.isNaN(date.getTime()) ? undefined : date
}

/**
 * A range's bound: `start` is the instant itself; `end` with a date alone reaches to that day's
 * last millisecond, so `until=2026-12-03` takes in the whole day (both bounds are inclusive).
 */
export function parseBound(text: string, side: 'start' | 'end'): Date | undefined {
  const date = parseInstant(text)
  if (date === undefined || side === 'start' || text.length > 'YYYY-MM-DD'.length) return date
  return new Date(date.getTime() + 86_400_000 - 1)
}
