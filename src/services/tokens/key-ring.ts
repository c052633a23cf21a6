import type { webcrypto } from 'node:crypto'
import { exportJWK, exportPKCS8, generateKeyPair, importJWK, importPKCS8, type JWK } from 'jose'
import type { SecretBox } from '../../crypto/secret-box.js'
import type { Db } from '../../store/db.js'
import {
  deleteSigningKeys,
  insertSigningKey,
  listSigningKeys,
  updateSealedPrivateKey,
  type SigningKeyRow,
} from '../../store/repositories/signing-keys.js'
import { newId } from '../ids.js'
import type { Clock, Random } from '../ports.js'

const ALG = 'EdDSA'
/** Every instance reloads the key list at least this often, so a rotation spreads within 5 s. */
const RELOAD_INTERVAL_MS = 2_000
/** A key stays published this long past the access TTL once a newer key signs, to cover reload lag. */
const PUBLISH_MARGIN_MS = 10_000

interface LoadedKey {
  kid: string
  createdAtMs: number
  publicJwk: JWK
  publicKey: webcrypto.CryptoKey
  /** Undefined when the private half cannot be opened (sealed under a key we lack, or damaged). */
  privateKey: webcrypto.CryptoKey | undefined
  sealed: string
}

export interface KeyRing {
  /** The key that signs now (the newest), creating the first one if there is none. */
  signingKey(): Promise<{ kid: string; privateKey: webcrypto.CryptoKey }>
  /** A published key by `kid`, or undefined for an unknown or retired one. */
  verificationKey(kid: string): Promise<webcrypto.CryptoKey | undefined>
  jwks(): Promise<{ keys: JWK[] }>
  /** Adds a new signing key and drops keys whose tokens have all expired. */
  rotate(): Promise<string>
  /** Re-encrypts every private key under the current secret key; returns how many changed. */
  reseal(): Promise<number>
  /** Kids whose private half cannot be opened (for /readyz); they are skipped for signing. */
  unusable(): Promise<string[]>
}

/** Where the ring reports a key it cannot open; main.ts hands in the app's logger. */
export interface KeyRingLogger {
  error(obj: Record<string, unknown>, msg: string): void
}

const aad = (kid: string) => `signing_keys.private_key_sealed:${kid}`

export function createKeyRing(deps: {
  db: Db
  box: SecretBox
  clock: Clock
  random: Random
  accessTtlSec: number
  log: KeyRingLogger
}): KeyRing {
  const { db, box, clock } = deps
  let keys: LoadedKey[] = []
  let loadedAtMs = -Infinity
  let loading: Promise<void> | undefined

  async function toLoaded(row: SigningKeyRow, previous?: LoadedKey): Promise<LoadedKey> {
    if (previous && previous.sealed === row.private_key_sealed) return previous
    const publicJwk = JSON.parse(row.public_jwk) as JWK
    return {
      kid: row.kid,
      createdAtMs: row.created_at,
      publicJwk,
      publicKey: (await importJWK(publicJwk, ALG)) as webcrypto.CryptoKey,
      privateKey: await openPrivateKey(row),
      sealed: row.private_key_sealed,
    }
  }

  /**
   * Opened once per key row. A key sealed under a secret key this instance lacks (a CLI run
   * with another GATEHOUSE_SECRET_KEY once rotated one in) must not turn every login into a
   * 500 while an older key still signs: it is skipped, logged once, and /readyz says degraded.
   */
  async function openPrivateKey(row: SigningKeyRow): Promise<webcrypto.CryptoKey | undefined> {
    try {
      const pkcs8 = box.open(row.private_key_sealed, aad(row.kid)).toString('utf8')
      return await importPKCS8(pkcs8, ALG)
    } catch (err) {
      deps.log.error(
        { kid: row.kid, err: err instanceof Error ? err.message : String(err) },
        'signing key cannot be opened with GATEHOUSE_SECRET_KEY or GATEHOUSE_OLD_SECRET_KEYS; it is skipped',
      )
      return undefined
    }
  }

  /**
   * Keys whose tokens may still be alive: the signing key, keys newer than it, and keys it
   * (or a newer usable key) replaced less than a TTL ago. A key that cannot be opened signs
   * nothing, so it replaces nothing either.
   */
  function published(all: LoadedKey[], nowMs: number): LoadedKey[] {
    return all.filter((key, i) => {
      const successor = all.slice(0, i).findLast((k) => k.privateKey !== undefined) // newest first
      return (
        successor === undefined ||
        successor.createdAtMs + deps.accessTtlSec * 1000 + PUBLISH_MARGIN_MS > nowMs
      )
    })
  }

  async function load(force = false): Promise<void> {
    const nowMs = clock.now().getTime()
    if (!force && nowMs - loadedAtMs < RELOAD_INTERVAL_MS && keys.length > 0) return
    loading ??= (async () => {
      try {
        let rows = await listSigningKeys(db)
        if (rows.length === 0) {
          await createKey()
          rows = await listSigningKeys(db)
        }
        const byKid = new Map(keys.map((k) => [k.kid, k]))
        keys = await Promise.all(rows.map((r) => toLoaded(r, byKid.get(r.kid))))
        loadedAtMs = clock.now().getTime()
      } finally {
        loading = undefined
      }
    })()
    await loading
  }

  async function createKey(): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair(ALG, {
      crv: 'Ed25519',
      extractable: true,
    })
    const kid = newId(deps.random)
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: ALG, use: 'sig' }
    await insertSigningKey(db, {
      kid,
      alg: ALG,
      public_jwk: JSON.stringify(publicJwk),
      private_key_sealed: box.seal(await exportPKCS8(privateKey), aad(kid)),
      created_at: clock.now().getTime(),
    })
    return kid
  }

  return {
    async signingKey() {
      await load()
      const signer = keys.find((k) => k.privateKey !== undefined)
      if (!signer?.privateKey) throw new Error('no signing key can be opened')
      return { kid: signer.kid, privateKey: signer.privateKey }
    },

    async verificationKey(kid) {
      await load()
      let key = published(keys, clock.now().getTime()).find((k) => k.kid === kid)
      // A kid we have never seen may be another instance's fresh rotation: look once more.
      if (!key && !keys.some((k) => k.kid === kid) && clock.now().getTime() - loadedAtMs > 250) {
        await load(true)
        key = published(keys, clock.now().getTime()).find((k) => k.kid === kid)
      }
      return key?.publicKey
    },

    async jwks() {
      await load()
      return { keys: published(keys, clock.now().getTime()).map((k) => k.publicJwk) }
    },

    async rotate() {
      await load(true)
      const kid = await createKey()
      const retired = keys.filter((k) => !published(keys, clock.now().getTime()).includes(k))
      await deleteSigningKeys(
        db,
        retired.map((k) => k.kid),
      )
      await load(true)
      return kid
    },

    async reseal() {
      const rows = await listSigningKeys(db)
      let changed = 0
      for (const row of rows) {
        if (!box.needsReseal(row.private_key_sealed)) continue
        const plain = box.open(row.private_key_sealed, aad(row.kid))
        await updateSealedPrivateKey(db, row.kid, box.seal(plain, aad(row.kid)))
        changed++
      }
      await load(true)
      return changed
    },

    async unusable() {
      await load()
      return keys.filter((k) => k.privateKey === undefined).map((k) => k.kid)
    },
  }
}
