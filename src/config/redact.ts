/**
 * A server's URL (database, Redis) as it may be shown or logged: the password masked. It lives
 * with the configuration that holds these URLs, below every layer that shows one (the app's
 * Redis status lines, the store's database descriptions), so none of them imports another's.
 */
export function withoutPassword(url: string): string {
  const parsed = new URL(url)
  if (parsed.password !== '') parsed.password = '***'
  return parsed.toString()
}
