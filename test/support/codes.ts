/**
 * Matches `code` where it stands as a code of its own: not inside a longer number (a
 * millisecond timestamp) nor inside lower-case hex (an audit hash), where six given digits
 * turn up by chance now and then. Other letters may touch it, so a code after an escaped
 * newline in a JSON log line (`\\n123456`) is still found.
 */
export function standalone(code: string): RegExp {
  return new RegExp(`(?<![0-9a-f])${code}(?![0-9a-f])`)
}
