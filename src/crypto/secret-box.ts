import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto'

/**
 * Encrypts small secrets at rest (TOTP secrets, private signing keys) under GATEHOUSE_SECRET_KEY.
 * The envelope carries the key id so `gatehouse secrets rotate` can tell which rows still use
 * an old key, and the AAD names table/column/row so a ciphertext copied to another row or
 * column does not open there.
 */
export interface SecretBox {
  seal(plaintext: Buffer | string, aad: string): string
  open(envelope: string, aad: string): Buffer
  /** True when the envelope was sealed under an old key; throws on a malformed envelope. */
  needsReseal(envelope: string): boolean
  readonly currentKid: string
  /** The ids of every key this box opens: the current one first, then the old ones. */
  readonly kids: readonly string[]
}

const VERSION = 'v1'
const IV_BYTES = 12 // the 96-bit IV GCM is specified for; other lengths get hashed into one
const TAG_BYTES = 16
const MASTER_KEY_BYTES = 32
const SEAL_INFO = 'gatehouse secret-box v1'
// A separate derivation, so publishing the kid says nothing about the encryption key itself.
const KID_INFO = 'gatehouse secret-box kid v1'
const B64URL = /^[A-Za-z0-9_-]+$/
const KID = /^[0-9a-f]{8}$/

/**
 * HKDF-SHA256 of the master key for one purpose, so one GATEHOUSE_SECRET_KEY can feed
 * several independent keys (secret box, HMAC of short codes) without any two being related.
 */
export function deriveKey(master: Buffer, purpose: string): Buffer {
  // An empty salt is fine: the master key is already uniformly random (RFC 5869 §3.1).
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), purpose, 32))
}

interface BoxKey {
  readonly kid: string
  readonly key: Buffer
}

function boxKey(master: Buffer): BoxKey {
  if (master.length !== MASTER_KEY_BYTES) {
    // Catches a hex or base64 string passed as bytes, which would silently weaken the key.
    throw new Error(`secret box: key must be ${MASTER_KEY_BYTES} bytes`)
  }
  const kid = createHash('sha256').update(deriveKey(master, KID_INFO)).digest('hex').slice(0, 8)
  return { kid, key: deriveKey(master, SEAL_INFO) }
}

// The version goes into the AAD too, so a future v2 envelope can never be read as v1.
function fullAad(aad: string): Buffer {
  return Buffer.from(`${VERSION}\0${aad}`, 'utf8')
}

interface Parsed {
  kid: string
  iv: Buffer
  ciphertext: Buffer
  tag: Buffer
}

function parse(envelope: string): Parsed {
  const parts = envelope.split('.')
  const [version, kid, iv, ciphertext, tag] = parts
  if (
    parts.length !== 5 ||
    version !== VERSION ||
    kid === undefined ||
    !KID.test(kid) ||
    iv === undefined ||
    !B64URL.test(iv) ||
    ciphertext === undefined ||
    // An empty plaintext seals to an empty ciphertext, so this part may be empty.
    !(ciphertext === '' || B64URL.test(ciphertext)) ||
    tag === undefined ||
    !B64URL.test(tag)
  ) {
    throw new Error('secret box: malformed envelope')
  }
  const parsed = {
    kid,
    iv: Buffer.from(iv, 'base64url'),
    ciphertext: Buffer.from(ciphertext, 'base64url'),
    tag: Buffer.from(tag, 'base64url'),
  }
  // A short tag would make forgery easier; Node accepts tags down to 4 bytes unless told.
  if (parsed.iv.length !== IV_BYTES || parsed.tag.length !== TAG_BYTES) {
    throw new Error('secret box: malformed envelope')
  }
  return parsed
}

/** The key id named by an envelope, or by its first 12 characters (`v1.<kid>.`). */
export function envelopeKid(envelope: string): string | undefined {
  const [version, kid] = envelope.split('.')
  return version === VERSION && kid !== undefined && KID.test(kid) ? kid : undefined
}

export function createSecretBox(currentKey: Buffer, oldKeys: readonly Buffer[]): SecretBox {
  const current = boxKey(currentKey)
  const keys: BoxKey[] = [current]
  for (const old of oldKeys) {
    const k = boxKey(old)
    if (!keys.some((have) => have.key.equals(k.key))) keys.push(k)
  }

  function seal(plaintext: Buffer | string, aad: string): string {
    const iv = randomBytes(IV_BYTES)
    const cipher = createCipheriv('aes-256-gcm', current.key, iv, { authTagLength: TAG_BYTES })
    cipher.setAAD(fullAad(aad))
    const data = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext
    const ciphertext = Buffer.concat([cipher.update(data), cipher.final()])
    const tag = cipher.getAuthTag()
    return [
      VERSION,
      current.kid,
      iv.toString('base64url'),
      ciphertext.toString('base64url'),
      tag.toString('base64url'),
    ].join('.')
  }

  function open(envelope: string, aad: string): Buffer {
    const { kid, iv, ciphertext, tag } = parse(envelope)
    // Kids are 32 bits, so two keys may share one; try every match rather than the first.
    const candidates = keys.filter((k) => k.kid === kid)
    if (candidates.length === 0) throw new Error('secret box: unknown key id')
    for (const { key } of candidates) {
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES })
        decipher.setAAD(fullAad(aad))
        decipher.setAuthTag(tag)
        return Buffer.concat([decipher.update(ciphertext), decipher.final()])
      } catch {
        // Node's message is generic already, but ours is fixed so nothing can leak through it.
      }
    }
    throw new Error('secret box: cannot open envelope (wrong key or AAD, or tampered)')
  }

  function needsReseal(envelope: string): boolean {
    return parse(envelope).kid !== current.kid
  }

  return { seal, open, needsReseal, currentKid: current.kid, kids: keys.map((k) => k.kid) }
}
