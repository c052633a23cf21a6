import { isIPv4, isIPv6 } from 'node:net'

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
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi, lo] = [groups[6]!, groups[7]!]
    return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join('.')
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a dotted tail split). */
function ipv6Groups(address: string): number[] {
  let text = address
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number]
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head, tail] = text.split('::') as [string, string | undefined]
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)))
  const front = parse(head)
  if (tail === undefined) return front
  const back = parse(tail)
  return [...front, ...Array<number>(8 - front.length - back.length).fill(0), ...back]
}
