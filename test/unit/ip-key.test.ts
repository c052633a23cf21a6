import { describe, expect, it } from 'vitest'
import { ipLimitKey } from '../../src/services/lockout/ip-key.js'

/**
 * Regression (issue 9 item 8): per-IP limits counted each IPv6 address on its own, so one
 * client with a /64 had 2^64 budgets. IPv6 counts per /64; IPv4 (and IPv4-mapped IPv6) per
 * address.
 */
describe('ipLimitKey', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['::FFFF:192.0.2.1', '192.0.2.1'],
    ['::ffff:c000:201', '192.0.2.1'],
    ['0:0:0:0:0:ffff:c000:0201', '192.0.2.1'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:db8:1:2:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002:0000:0000:0000:0009', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['2001:db8:0:0:1::', '2001:db8:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['::', '0:0:0:0::/64'],
    ['64:ff9b::192.0.2.1', '64:ff9b:0:0::/64'],
    ['unknown', 'unknown'],
    ['', ''],
  ])('%s → %s', (ip, key) => {
    expect(ipLimitKey(ip)).toBe(key)
  })

  it('gives addresses in different /64s different keys', () => {
    expect(ipLimitKey('2001:db8:1:2::1')).not.toBe(ipLimitKey('2001:db8:1:3::1'))
    expect(ipLimitKey('::ffff:192.0.2.1')).not.toBe(ipLimitKey('::ffff:192.0.2.2'))
  })
})
