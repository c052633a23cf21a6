import { describe, expect, it } from 'vitest'
import { networkOf } from '../../src/services/notifications/device.js'

describe('networkOf (what "a new device" compares, SPEC §4.13)', () => {
  it.each([
    ['192.0.2.77', '192.0.2.0/24'],
    ['::ffff:192.0.2.77', '192.0.2.0/24'],
    ['::FFFF:C000:024D', '192.0.2.0/24'],
    ['2001:db8:1:2::1', '2001:db8:1::/48'],
    ['2001:DB8:1:ffff:aaaa::9', '2001:db8:1::/48'],
    ['fe80::1%eth0', 'fe80:0:0::/48'],
    [null, 'unknown'],
    ['not an address', 'unknown'],
  ])('groups %s as %s', (ip, network) => {
    expect(networkOf(ip)).toBe(network)
  })
})
