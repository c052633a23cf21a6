import { isIPv4, isIPv6 } from 'node:net'
import { ipv6Groups, mappedIPv4 } from '../ip-address.js'

/**
 * The key a per-IP limit counts under. One IPv6 subscriber gets a whole /64 (RFC 6177) and
 * picks any address in it at will, so keying by the full address would give each client
 * 2^64 budgets: IPv6 counts per /64. An IPv4-mapped address (`::ffff:192.0.2.1`, what a
 * dual-stack socket reports for an IPv4 client) is the IPv4 client it names. Anything that
 * is not an address (no socket address, a test's placeholder) is its own key.
 */
export function ipLimitKey(ip: string): string {
  const bare = ip.split('%')[0]!
  if (isIPv4(bare)) return bare
  if (!isIPv6(bare)) return ip
  const groups = ipv6Groups(bare.toLowerCase())
  const v4 = mappedIPv4(groups)
  if (v4) return v4.join('.')
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`
}
