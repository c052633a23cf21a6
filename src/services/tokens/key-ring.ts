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
import type { AuditLog } from '../audit/audit-log.js'
import { newId } from '../ids.js'
import { loggable, type Clock, type Random } from '../ports.js'

/**
 * Gatehouse's own access tokens are EdDSA; the OpenID provider signs ID tokens RS256 (what every
 * client supports) or EdDSA on request, so the ring keeps one current key of each.
 */
const ALGS = ['EdDSA', 'RS256'] as const
type Alg = (typeof ALGS)[number]
const ACCESS_TOKEN_ALG: Alg = 'EdDSA'
/** Every instance reloads the key list at least this often, so a rotation spreads within 5 s. */
const RELOAD_INTERVAL_MS = 2_000
/**
 * How long a JWKS answer may be cached: no longer than a rotation takes to reach every
 * instance. A new key signs within 5 s of `keys rotate` (SPEC §4.3), so a backend that kept
 * the key list a minute, as HTTP caching allowed before, refused that minute's tokens.
 */
export const JWKS_CACHE_CONTROL = 'public, max-age=5'
/** A key stays published this long past the access TTL once a newer key signs, to cover reload lag. */
const PUBLISH_MARGIN_MS = 10_000

interface LoadedKey {
  kid: string
  alg: Alg
  createdAtMs: number
  publicJwk: JWK
  publicKey: webcrypto.CryptoKey
  /** Undefined when the private half cannot be opened (sealed under a key we lack, or damaged). */
  privateKey: webcrypto.CryptoKey | undefined
  /** The private half as a JWK, made on first use by the OpenID provider. */
  privateJwk: JWK | undefined
  sealed: string
}

export interface KeyRing {
  /** The key that signs now (the newest), creating the first one if there is none. */
  signingKey(): Promise<{ kid: string; privateKey: webcrypto.CryptoKey }>
  /** A published key by `kid`, or undefined for an unknown or retired one. */
  verificationKey(kid: string): Promise<webcrypto.CryptoKey | undefined>
  jwks(): Promise<{ keys: JWK[] }>
  /**
   * The published keys with their private parts, newest first, for the OpenID provider; and a
   * version that changes whenever that set does, so the provider can be rebuilt on rotation.
   */
  privateJwks(): Promise<{ version: string; keys: JWK[] }>
  /** Adds a new signing key and drops keys whose tokens have all expired, audited with it. */
  rotate(): Promise<string>
  /** Re-encrypts every private key under the current secret key; returns how many changed. */
  reseal(): Promise<number>
  /** Kids whose private half cannot be opened (for /readyz); they are skipped for signing. */
  unusable(): Promise<string[]>
}

/** Where the ring reports a key it cannot open; serve.ts hands in the app's logger. */
export interface KeyRingLogger {
  error(obj: Record<string, unknown>, msg: string): void
}

const aad = (kid: string) => `signing_keys.private_key_sealed:${kid}`

export function createKeyRing(deps: {
  db: Db
  box: SecretBox
  clock: Clock
  random: Random
  /** How long tokens signed by a key live: it stays published that long after it stops signing. */
  accessTtlSec: number
  log: KeyRingLogger
  audit: Pick<AuditLog, 'change'>
}): KeyRing {
  const { db, box, clock } = deps
  let keys: LoadedKey[] = []
  let loadedAtMs = -Infinity
  let loading: Promise<void> | undefined

  async function toLoaded(row: SigningKeyRow, previous?: LoadedKey): Promise<LoadedKey> {
    if (previous && previous.sealed === row.private_key_sealed) return previous
    const publicJwk = JSON.parse(row.public_jwk) as JWK
    const alg = row.alg as Alg
    return {
      kid: row.kid,
      alg,
      createdAtMs: row.created_at,
      publicJwk,
      publicKey: (await importJWK(publicJwk, alg)) as webcrypto.CryptoKey,
      privateKey: await openPrivateKey(row, alg),
      privateJwk: undefined,
      sealed: row.private_key_sealed,
    }
  }

  /**
   * Opened once per key row. A key sealed under a secret key this instance lacks (a CLI run
   * with another GATEHOUSE_SECRET_KEY once rotated one in) must not turn every login into a
   * 500 while an older key still signs: it is skipped, logged once, and /readyz says degraded.
   */
  async function openPrivateKey(
    row: SigningKeyRow,
    alg: Alg,
  ): Promise<webcrypto.CryptoKey | undefined> {
    try {
      const pkcs8 = box.open(row.private_key_sealed, aad(row.kid)).toString('utf8')
      return await importPKCS8(pkcs8, alg)
    } catch (err) {
      deps.log.error(
        { kid: row.kid, err: loggable(err) },
        'signing key cannot be opened with GATEHOUSE_SECRET_KEY or GATEHOUSE_OLD_SECRET_KEYS; it is skipped',
      )
      return undefined
    }
  }

  /**
   * Keys whose tokens may still be alive: the newest usable key of each algorithm, keys newer
   * than it, and keys a newer usable key of their algorithm replaced less than a TTL ago. A key
   * that cannot be opened signs nothing, so it replaces nothing either.
   */
  function published(all: LoadedKey[], nowMs: number): LoadedKey[] {
    return all.filter((key) => {
      const newer = all.filter(
        (k) => k.alg === key.alg && k.createdAtMs > key.createdAtMs && k.privateKey !== undefined,
      )
      const successor = newer[newer.length - 1] // newest first: the last newer is the next one
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
        const missing = ALGS.filter((alg) => !rows.some((r) => r.alg === alg))
        if (missing.length > 0) {
          for (const alg of missing) await createKey(alg)
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

  /** A new key pair as its row: generated and sealed, not yet stored. */
  async function newKeyRow(alg: Alg): Promise<SigningKeyRow> {
    const { privateKey } = await generateKeyPair(
      alg,
      alg === 'EdDSA' ? { crv: 'Ed25519', extractable: true } : { extractable: true },
    )
    const pkcs8 = await exportPKCS8(privateKey)
    // The public JWK comes from the key read back, not from the generated one: Node 20 can
    // deadlock exporting a generated key as JWK when that export's allocation collects the
    // generator's job, whose destructor waits for the lock the export holds (a test worker
    // hung so in KeyGenJob::~KeyGenJob under KeyObjectHandle::ExportJWK). The PKCS#8 export
    // runs as a job of its own and takes no such turn.
    const {
      d: _d,
      p: _p,
      q: _q,
      dp: _dp,
      dq: _dq,
      qi: _qi,
      ...publicMembers
    } = await exportJWK(await importPKCS8(pkcs8, alg, { extractable: true }))
    const kid = newId(deps.random)
    const publicJwk = { ...publicMembers, kid, alg, use: 'sig' }
    return {
      kid,
      alg,
      public_jwk: JSON.stringify(publicJwk),
      private_key_sealed: box.seal(pkcs8, aad(kid)),
      created_at: clock.now().getTime(),
    }
  }

  async function createKey(alg: Alg): Promise<void> {
    await insertSigningKey(db, await newKeyRow(alg))
  }

  async function openPrivateJwk(key: LoadedKey): Promise<JWK> {
    if (!key.privateJwk) {
      const pem = box.open(key.sealed, aad(key.kid)).toString('utf8')
      const extractable = await importPKCS8(pem, key.alg, { extractable: true })
      key.privateJwk = { ...(await exportJWK(extractable)), kid: key.kid, alg: key.alg, use: 'sig' }
    }
    return key.privateJwk
  }

  return {
    async signingKey() {
      await load()
      const signer = keys.find((k) => k.alg === ACCESS_TOKEN_ALG && k.privateKey !== undefined)
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
      const live = published(keys, clock.now().getTime())
      // Gatehouse's own access-token keys first: a backend that takes the first key keeps working.
      const ordered = [
        ...live.filter((k) => k.alg === ACCESS_TOKEN_ALG),
        ...live.filter((k) => k.alg !== ACCESS_TOKEN_ALG),
      ]
      return { keys: ordered.map((k) => k.publicJwk) }
    },

    async privateJwks() {
      await load()
      const live = published(keys, clock.now().getTime()).filter((k) => k.privateKey !== undefined)
      return {
        version: live.map((k) => k.kid).join(','),
        keys: await Promise.all(live.map(openPrivateJwk)),
      }
    },

    async rotate() {
      await load(true)
      // Generated before the transaction opens: it holds nothing but the writes.
      const rows = await Promise.all(ALGS.map(newKeyRow))
      const kid = rows.find((row) => row.alg === ACCESS_TOKEN_ALG)!.kid
      const live = published(keys, clock.now().getTime())
      const retired = keys.filter((k) => !live.includes(k)).map((k) => k.kid)
      // The new keys, the retired ones' removal and the audit event: all of them or none.
      await deps.audit.change(async (trx, record) => {
        for (const row of rows) await insertSigningKey(trx, row)
        await deleteSigningKeys(trx, retired)
        await record({ event: 'signing_key_rotated', outcome: 'success', details: { kid } })
      })
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
