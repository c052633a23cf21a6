/**
 * The little of CBOR (RFC 8949) an authenticator writes: unsigned and negative integers,
 * byte and text strings, arrays and maps. Written by hand so that the test authenticator
 * shares no code with the server's decoder (@simplewebauthn's tiny-cbor).
 */
export type CborValue = number | string | Uint8Array | CborValue[] | Map<CborValue, CborValue>

function head(major: number, length: number): Buffer {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`bad CBOR length ${length}`)
  const type = major << 5
  if (length < 24) return Buffer.from([type | length])
  if (length < 0x100) return Buffer.from([type | 24, length])
  if (length < 0x10000) {
    const b = Buffer.alloc(3)
    b[0] = type | 25
    b.writeUInt16BE(length, 1)
    return b
  }
  if (length < 0x1_0000_0000) {
    const b = Buffer.alloc(5)
    b[0] = type | 26
    b.writeUInt32BE(length, 1)
    return b
  }
  const b = Buffer.alloc(9)
  b[0] = type | 27
  b.writeBigUInt64BE(BigInt(length), 1)
  return b
}

export function cborEncode(value: CborValue): Buffer {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new TypeError('only integers are encoded')
    // RFC 8949 §3.1: major type 1 carries -1 - n.
    return value >= 0 ? head(0, value) : head(1, -1 - value)
  }
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8')
    return Buffer.concat([head(3, bytes.length), bytes])
  }
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), value])
  if (Array.isArray(value)) return Buffer.concat([head(4, value.length), ...value.map(cborEncode)])
  const parts = [head(5, value.size)]
  for (const [k, v] of value) parts.push(cborEncode(k), cborEncode(v))
  return Buffer.concat(parts)
}
