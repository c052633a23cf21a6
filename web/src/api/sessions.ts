import { api, ApiError } from './client'
import type { Session } from './types'

/** The signed-in user's sessions (SPEC §4.2), this one marked `current`. */
export async function listSessions(): Promise<Session[]> {
  return (await api.get<{ sessions: Session[] }>('/api/auth/sessions')).sessions
}

export async function endSession(id: string): Promise<void> {
  await api.delete(`/api/auth/sessions/${encodeURIComponent(id)}`)
}

/**
 * Ends every session but this one. The API has no single call for it (`logout-all` ends this
 * one too), so one DELETE each; a session that ended meanwhile (expired, signed out on its
 * device) answers 404, which is the outcome wanted, not a failure.
 */
export async function endOtherSessions(): Promise<void> {
  for (const s of await listSessions()) {
    if (s.current) continue
    try {
      await endSession(s.id)
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) throw err
    }
  }
}
