/** The claims the UI reads from its own access token (display only: the server verifies). */
export interface AccessClaims {
  sid?: string
  amr?: string[]
  exp?: number
  roles?: string[]
}

export function claimsOf(token: string): AccessClaims {
  const part = token.split('.')[1]
  if (!part) return {}
  try {
    const base64 = part.replaceAll('-', '+').replaceAll('_', '/')
    const json = new TextDecoder().decode(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)))
    return JSON.parse(json) as AccessClaims
  } catch {
    return {}
  }
}
