import { hash } from 'node:crypto'
import { isIPv4, isIPv6 } from 'node:net'

/** The eight 16-bit groups of an IPv6 address (`::` expanded, a dotted IPv4 tail converted). */
function ipv6Groups(ip: string): number[] {
  let text = ip.split('%')[0]!
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number]
    text = `${text.slice(0, -dotted[1]!.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head, tail] = text.split('::') as [string, string | undefined]
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)))
  const left = parse(head)
  const right = tail === undefined ? [] : parse(tail)
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right]
}

/**
 * The client network SPEC §4.13 compares: the IPv4 /24 or the IPv6 /48 (IPv4-mapped IPv6
 * counts as IPv4). Anything else (no address) is one network of its own.
 */
export function networkOf(ip: string | null): string {
  if (ip !== null && isIPv4(ip)) return `${ip.split('.').slice(0, 3).join('.')}.0/24`
  if (ip !== null && isIPv6(ip)) {
    const groups = ipv6Groups(ip)
    const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff
    if (mapped) {
      const [hi, lo] = [groups[6]!, groups[7]!]
      return `${hi >> 8}.${hi & 255}.${lo >> 8}.0/24`
    }
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
