import { deriveKey, type SecretBox } from '../../crypto/secret-box.js'
import type { Db } from '../../store/db.js'
import {
  findAppSecret,
  insertAppSecret,
  updateSealedAppSecret,
} from '../../store/repositories/app-secrets.js'
import type { Clock } from '../ports.js'

const NAME = 'code-hash'
const AAD = 'app_secrets.sealed:code-hash'
const PURPOSE = 'gatehouse code-hash v1'

export type CodeHashKeys = ReturnType<typeof createCodeHashKeys>

/**
 * The key of short-code hashes (backup codes, email/SMS codes). It used to be derived from
 * GATEHOUSE_SECRET_KEY, so `secrets rotate` silently broke every backup code and pending
 * code: a hash cannot be re-made without its code. Now it is made once, kept in the
 * database sealed under the secret key, and re-sealed (never changed) by `secrets rotate`.
 *
 * The first instance to start stores the key derived from its current secret key, which is
 * exactly the key that existing hashes were made under. Keys derived from the current and
 * old secret keys stay accepted for verification, so codes made before the upgrade by an
 * instance still on an old key keep working too.
 */
export function createCodeHashKeys(deps: {
  db: Db
  box: SecretBox
  clock: Clock
  secretKey: Buffer
  oldSecretKeys: readonly Buffer[]
}) {
  const { db, box } = deps
  const derived = [deps.secretKey, ...deps.oldSecretKeys].map((k) => deriveKey(k, PURPOSE))
  let loading: Promise<Buffer[]> | undefined

  async function load(): Promise<Buffer[]> {
    let row = await findAppSecret(db, NAME)
    if (!row) {
      const sealed = box.seal(derived[0]!, AAD)
      await insertAppSecret(db, { name: NAME, sealed, created_at: deps.clock.now().getTime() })
      row = await findAppSecret(db, NAME) // ours, or a concurrent first instance's
      if (!row) throw new Error('code-hash key: not stored')
    }
    const stable = box.open(row.sealed, AAD)
    const others = derived.filter((k) => !k.equals(stable))
    return [stable, ...others]
  }

  return {
    /** The stable key first, then the keys derived from the configured secret keys. */
    keys(): Promise<Buffer[]> {
      loading ??= load().catch((err: unknown) => {
        loading = undefined // a database outage must not stick
        throw err
      })
      return loading
    },

    /** `secrets rotate`: the same key, sealed under the current secret key. */
    async reseal(): Promise<number> {
      const row = await findAppSecret(db, NAME)
      if (!row || !box.needsReseal(row.sealed)) return 0
      await updateSealedAppSecret(db, NAME, box.seal(box.open(row.sealed, AAD), AAD))
      return 1
    },
  }
}
