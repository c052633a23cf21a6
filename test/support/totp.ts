import { Secret, TOTP, URI } from 'otpauth'
import type { FakeClock } from './clock.js'

/**
 * What an authenticator app shows now for an otpauth URL (parsed as an app parses it) or a
 * bare base32 secret; `offsetSteps` moves the app's clock by whole 30-second steps.
 */
export function appCode(secretOrUrl: string, clock: FakeClock, offsetSteps = 0): string {
  const totp = secretOrUrl.startsWith('otpauth://')
    ? URI.parse(secretOrUrl)
    : new TOTP({ secret: Secret.fromBase32(secretOrUrl) })
  return totp.generate({ timestamp: clock.now().getTime() + offsetSteps * 30_000 })
}
