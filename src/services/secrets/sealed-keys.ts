import { envelopeKid, type SecretBox } from '../../crypto/secret-box.js'
import type { Db } from '../../store/db.js'
import { sealedEnvelopeHeads } from '../../store/repositories/sealed-secrets.js'

/**
 * Start-up refuses a database holding secrets sealed under keys this process lacks: carrying
 * on would seal new secrets under yet another key (a CLI run without the servers'
 * GATEHOUSE_SECRET_KEY once rotated a signing key in that no server could open, and every
 * login failed). Raised by serve.ts and the CLI before anything else runs.
 */
export class MissingSecretKeys extends Error {
  readonly kids: readonly string[]

  constructor(kids: readonly string[], box: SecretBox, source: string) {
    const current = `${source} (key id ${box.currentKid})`
    const old = box.kids.slice(1)
    const ours =
      old.length === 0
        ? `${current} does not open`
        : `neither ${current} nor GATEHOUSE_OLD_SECRET_KEYS (key id${old.length === 1 ? '' : 's'} ${old.join(', ')}) opens`
    super(
      `the database holds secrets sealed under key id${kids.length === 1 ? '' : 's'} ${kids.join(', ')}, ` +
        `which ${ours}; use the servers' GATEHOUSE_SECRET_KEY ` +
        '(during a rotation, list the previous key in GATEHOUSE_OLD_SECRET_KEYS)',
    )
    this.name = 'MissingSecretKeys'
    this.kids = kids
  }
}

export interface SealedKeyCheck {
  /** Key ids the database's sealed secrets name that this box cannot open, sorted. */
  missing(): Promise<string[]>
  /** Throws MissingSecretKeys when any are missing. */
  assertAllPresent(source: string): Promise<void>
}

export function createSealedKeyCheck(deps: { db: Db; box: SecretBox }): SealedKeyCheck {
  const { db, box } = deps
  async function missing(): Promise<string[]> {
    const kids = new Set<string>()
    for (const head of await sealedEnvelopeHeads(db)) {
      const kid = envelopeKid(head)
      if (kid !== undefined && !box.kids.includes(kid)) kids.add(kid)
    }
    return [...kids].sort()
  }
  return {
    missing,
    async assertAllPresent(source) {
      const kids = await missing()
      if (kids.length > 0) throw new MissingSecretKeys(kids, box, source)
    },
  }
}
