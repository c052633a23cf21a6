import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  type KeyObject,
} from 'node:crypto'
import { cborEncode, type CborValue } from './cbor.js'

/**
 * A software WebAuthn authenticator for the server tests: it makes credentials, answers
 * registration and sign-in options as a browser plus authenticator would, and can be told
 * to misbehave (another origin or RP id, no user verification, a chosen counter). Built on
 * node:crypto and the WebAuthn Level 3 formats only (§6.1 authenticator data, §6.5.1 the
 * attested credential data, §8.7 "none" attestation, §5.8.1 client data).
 */
export type Algorithm = 'ES256' | 'EdDSA' | 'RS256'

const COSE_ALG: Record<Algorithm, number> = { EdDSA: -8, ES256: -7, RS256: -257 }

const FLAG_UP = 0x01
const FLAG_UV = 0x04
const FLAG_AT = 0x40

export interface SoftCredential {
  id: Buffer
  alg: Algorithm
  privateKey: KeyObject
  cosePublicKey: Buffer
  /** base64url, as the options gave it. */
  userHandle: string
  rpId: string
  counter: number
}

/** Just the fields of the options JSON an authenticator reads. */
export interface CreationOptions {
  challenge: string
  rp: { id?: string; name: string }
  user: { id: string; name: string }
  pubKeyCredParams: { alg: number }[]
  excludeCredentials?: { id: string }[]
}
export interface RequestOptions {
  challenge: string
  rpId?: string
  allowCredentials?: { id: string }[]
}

export interface Ceremony {
  origin?: string
  /** The RP id the authenticator hashes into its data (the browser's, normally options'). */
  rpId?: string
  /** Whether the user was verified (PIN, biometric); true by default. */
  userVerified?: boolean
  /** The clientDataJSON type, to send a registration where a sign-in is expected. */
  type?: string
  /** Answer another challenge than the options'. */
  challenge?: string
}

export interface AssertionCeremony extends Ceremony {
  /** The signature counter to report; by default the credential's next one. */
  counter?: number
  /** Sign with this credential, whatever the options allow. */
  credential?: SoftCredential
  /** Report another user handle than the credential's. */
  userHandle?: string
}

const b64url = (b: Uint8Array) => Buffer.from(b).toString('base64url')
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest()

/**
 * A key pair as KeyObjects of their own, made from the generator's DER. Node 20 deadlocks when
 * a KeyObject the generator handed out is exported as a JWK and the export's allocation runs a
 * garbage collection that frees the generator's job: the job's destructor waits for the mutex
 * the export holds (seen as a CI worker hung in KeyGenJob<EcKeyGenTraits>::~KeyGenJob under
 * KeyObjectHandle::ExportJWK). Keys parsed from DER share nothing with the job.
 */
function generated(pair: { publicKey: Buffer; privateKey: Buffer }): {
  publicKey: KeyObject
  privateKey: KeyObject
} {
  return {
    publicKey: createPublicKey({ key: pair.publicKey, format: 'der', type: 'spki' }),
    privateKey: createPrivateKey({ key: pair.privateKey, format: 'der', type: 'pkcs8' }),
  }
}
const spki = { type: 'spki', format: 'der' } as const
const pkcs8 = { type: 'pkcs8', format: 'der' } as const

function keyPair(alg: Algorithm): { privateKey: KeyObject; cose: Buffer } {
  if (alg === 'EdDSA') {
    const { privateKey, publicKey } = generated(
      generateKeyPairSync('ed25519', { publicKeyEncoding: spki, privateKeyEncoding: pkcs8 }),
    )
    const { x } = publicKey.export({ format: 'jwk' })
    // RFC 9053 §7.2: OKP key, curve Ed25519 (6).
    const cose = new Map<number, number | Uint8Array>([
      [1, 1],
      [3, COSE_ALG.EdDSA],
      [-1, 6],
      [-2, Buffer.from(x!, 'base64url')],
    ])
    return { privateKey, cose: cborEncode(cose) }
  }
  if (alg === 'ES256') {
    const { privateKey, publicKey } = generated(
      generateKeyPairSync('ec', {
        namedCurve: 'P-256',
        publicKeyEncoding: spki,
        privateKeyEncoding: pkcs8,
      }),
    )
    const { x, y } = publicKey.export({ format: 'jwk' })
    // RFC 9053 §7.1: EC2 key, curve P-256 (1).
    const cose = new Map<number, number | Uint8Array>([
      [1, 2],
      [3, COSE_ALG.ES256],
      [-1, 1],
      [-2, Buffer.from(x!, 'base64url')],
      [-3, Buffer.from(y!, 'base64url')],
    ])
    return { privateKey, cose: cborEncode(cose) }
  }
  const { privateKey, publicKey } = generated(
    generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: spki,
      privateKeyEncoding: pkcs8,
    }),
  )
  const { n, e } = publicKey.export({ format: 'jwk' })
  // RFC 8230 §4: RSA key (3) with modulus and exponent.
  const cose = new Map<number, number | Uint8Array>([
    [1, 3],
    [3, COSE_ALG.RS256],
    [-1, Buffer.from(n!, 'base64url')],
    [-2, Buffer.from(e!, 'base64url')],
  ])
  return { privateKey, cose: cborEncode(cose) }
}

function signWith(credential: SoftCredential, data: Buffer): Buffer {
  // WebAuthn §6.5.6: ES256 signatures are ASN.1 DER; Ed25519 signs the message itself.
  if (credential.alg === 'EdDSA') return sign(null, data, credential.privateKey)
  if (credential.alg === 'ES256')
    return sign('sha256', data, { key: credential.privateKey, dsaEncoding: 'der' })
  return sign('sha256', data, credential.privateKey)
}

function authenticatorData(rpId: string, flags: number, counter: number, attested?: Buffer) {
  const count = Buffer.alloc(4)
  count.writeUInt32BE(counter)
  return Buffer.concat([sha256(rpId), Buffer.from([flags]), count, ...(attested ? [attested] : [])])
}

function clientData(type: string, challenge: string, origin: string): Buffer {
  return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }), 'utf8')
}

export class SoftAuthenticator {
  readonly credentials: SoftCredential[] = []

  constructor(
    readonly alg: Algorithm = 'ES256',
    readonly origin = 'http://localhost:3000',
    /** Authenticators without a counter report 0 forever. */
    readonly counts = true,
  ) {}

  /** navigator.credentials.create(): a new credential and its "none" attestation. */
  register(options: CreationOptions, ceremony: Ceremony = {}) {
    const rpId = ceremony.rpId ?? options.rp.id ?? 'localhost'
    const excluded = new Set((options.excludeCredentials ?? []).map((c) => c.id))
    if (this.credentials.some((c) => c.rpId === rpId && excluded.has(b64url(c.id))))
      throw new Error('InvalidStateError: this authenticator already holds an excluded credential')
    if (!options.pubKeyCredParams.some((p) => p.alg === COSE_ALG[this.alg]))
      throw new Error(`NotSupportedError: ${this.alg} was not offered`)
    const { privateKey, cose } = keyPair(this.alg)
    const credential: SoftCredential = {
      id: sha256(cose).subarray(0, 16 + this.credentials.length),
      alg: this.alg,
      privateKey,
      cosePublicKey: cose,
      userHandle: options.user.id,
      rpId,
      counter: 0,
    }
    const idLength = Buffer.alloc(2)
    idLength.writeUInt16BE(credential.id.length)
    const attested = Buffer.concat([Buffer.alloc(16), idLength, credential.id, cose]) // AAGUID 0
    const uv = ceremony.userVerified ?? true
    const authData = authenticatorData(
      rpId,
      FLAG_UP | FLAG_AT | (uv ? FLAG_UV : 0),
      credential.counter,
      attested,
    )
    const attestationObject = cborEncode(
      new Map<CborValue, CborValue>([
        ['fmt', 'none'],
        ['attStmt', new Map<CborValue, CborValue>()],
        ['authData', authData],
      ]),
    )
    this.credentials.push(credential)
    const id = b64url(credential.id)
    return {
      id,
      rawId: id,
      type: 'public-key' as const,
      response: {
        clientDataJSON: b64url(
          clientData(
            ceremony.type ?? 'webauthn.create',
            ceremony.challenge ?? options.challenge,
            ceremony.origin ?? this.origin,
          ),
        ),
        attestationObject: b64url(attestationObject),
        transports: ['internal'],
      },
      authenticatorAttachment: 'platform' as const,
      clientExtensionResults: {},
    }
  }

  /** navigator.credentials.get(): an assertion by an allowed (or any discoverable) credential. */
  assert(options: RequestOptions, ceremony: AssertionCeremony = {}) {
    const rpId = ceremony.rpId ?? options.rpId ?? 'localhost'
    const allowed = new Set((options.allowCredentials ?? []).map((c) => c.id))
    const credential =
      ceremony.credential ??
      this.credentials.find(
        (c) =>
          c.rpId === (options.rpId ?? 'localhost') &&
          (allowed.size === 0 || allowed.has(b64url(c.id))),
      )
    if (!credential) throw new Error('NotAllowedError: no credential for these options')
    const counter = ceremony.counter ?? (this.counts ? credential.counter + 1 : 0)
    credential.counter = Math.max(credential.counter, counter)
    const uv = ceremony.userVerified ?? true
    const authData = authenticatorData(rpId, FLAG_UP | (uv ? FLAG_UV : 0), counter)
    const data = clientData(
      ceremony.type ?? 'webauthn.get',
      ceremony.challenge ?? options.challenge,
      ceremony.origin ?? this.origin,
    )
    const signature = signWith(credential, Buffer.concat([authData, sha256(data)]))
    const id = b64url(credential.id)
    return {
      id,
      rawId: id,
      type: 'public-key' as const,
      response: {
        clientDataJSON: b64url(data),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        userHandle: ceremony.userHandle ?? credential.userHandle,
      },
      authenticatorAttachment: 'platform' as const,
      clientExtensionResults: {},
    }
  }
}
