import { InvalidValue } from './errors.js'

const unitSeconds: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 }

// Lower-case units only: `M` would read as months to some people and minutes to others.
const durationPattern = /^(\d+)([smhd])?$/

/**
 * Seconds in `600s`, `10m`, `1h`, `30d`, or a bare integer of seconds. `0` parses; the
 * variables that need a positive duration say so in their own rule.
 */
export function parseDuration(s: string): number {
  const match = durationPattern.exec(s.trim())
  if (match === null) {
    throw new InvalidValue(`not a duration such as 600s, 10m, 1h or 30d: ${JSON.stringify(s)}`)
  }
  const [, amount = '', unit = 's'] = match
  const seconds = Number(amount) * (unitSeconds[unit] ?? 1)
  if (!Number.isSafeInteger(seconds)) {
    throw new InvalidValue(`duration too long: ${JSON.stringify(s)}`)
  }
  return seconds
}
