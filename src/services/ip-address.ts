/**
 * IPv6 address parts for the two places that group clients by network: per-IP limits
 * (lockout/ip-key.ts) and "a new device" (notifications/device.ts). Node parses addresses
 * only to validate them, so the groups are read here.
 */

/** The eight 16-bit groups of a valid IPv6 address (zone dropped, `::` expanded, a dotted tail split). */
export function ipv6Groups(address: string): number[] {
  let text = address.split('%')[0]!
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

/**
 * The IPv4 address an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, what a dual-stack socket
 * reports for an IPv4 client) names, as its four octets; undefined for any other address.
 */
export function mappedIPv4(
  groups: readonly number[],
): [number, number, number, number] | undefined {
  if (!(groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff)) return undefined
  const [hi, lo] = [groups[6]!, groups[7]!]
  return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]
}
