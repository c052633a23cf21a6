import type * as OidcProviderLibrary from 'oidc-provider'

export type OidcLibrary = typeof OidcProviderLibrary

let loading: Promise<OidcLibrary> | undefined

/**
 * oidc-provider, loaded on first use: CLI commands that never touch it do not pay for loading
 * it (and Koa) at start-up.
 *
 * oidc-provider 9 prints "Unsupported runtime" when imported on Node 20. SPEC §2 runs Gatehouse
 * on Node ≥ 20.19, where the library works (its one newer API, crypto.hash, is there since
 * 20.12), and that stray line would break "errors print one clear line" for every CLI command.
 * So exactly that warning, during exactly this import, is dropped; any other passes through.
 */
export function oidcLibrary(): Promise<OidcLibrary> {
  loading ??= (async () => {
    const originalWarn = console.warn
    console.warn = (...args: unknown[]) => {
      const first = args[0]
      if (typeof first === 'string' && first.includes('oidc-provider WARNING: Unsupported runtime'))
        return
      originalWarn(...args)
    }
    try {
      return await import('oidc-provider')
    } finally {
      console.warn = originalWarn
    }
  })()
  return loading
}
