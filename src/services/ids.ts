import type { Random } from './ports.js'

/** An opaque 128-bit id: unguessable, so ids never double as an enumeration oracle. */
export function newId(random: Random): string {
  return random.bytes(16).toString('base64url')
}
