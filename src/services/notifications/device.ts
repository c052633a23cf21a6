import { hash } from 'node:crypto'
import { isIPv4, isIPv6 } from 'node:net'
import { ipv6Groups, mappedIPv4 } from '../ip-address.js'

/**
 * The client network SPEC §4.13 compares: the IPv4 /24 or the IPv6 /48 (IPv4-mapped IPv6
 * counts as IPv4). Anything else (no address) is one network of its own.
 */
export function networkOf(ip: string | null): string {
  if (ip !== null && isIPv4(ip)) return `${ip.split('.').slice(0, 3).join('.')}.0/24`
  if (ip !== null && isIPv6(ip)) {
    const groups = ipv6Groups(ip)
    const v4 = mappedIPv4(groups)
    if (v4) return `${v4.slice(0, 3).join('.')}.0/24`
    return `${groups
      .slice(0, 3)
      .map((g) => g.toString(16))
      .join(':')}::/48`
  }
  return 'unknown'
}

/** What "this device" means for new-device notices: user agent and network, hashed. */
export function deviceHash(userAgent: string | null, ip: string | null): string {
  return hash('sha256', `${userAgent ?? ''}\n${networkOf(ip)}`, 'hex')
}
