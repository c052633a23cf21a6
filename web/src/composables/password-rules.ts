/**
 * The password and username rules of SPEC §3 and §4.5 that a browser can check while the person
 * types. The list of common passwords stays on the server, whose validation_error is shown
 * beside the field on submit.
 */
export interface Check {
  label: string
  ok: boolean
}

export function passwordChecks(password: string, username: string, minLength: number): Check[] {
  const length = [...password].length
  return [
    { label: `At least ${minLength} characters (${length} so far)`, ok: length >= minLength },
    {
      label: 'Not the same as the username',
      ok: password !== '' && password.toLowerCase() !== username.toLowerCase(),
    },
  ]
}

export function usernameProblem(username: string): string {
  if (username.length < 3 || username.length > 64) return 'Username must be 3 to 64 characters.'
  if (!/^[A-Za-z0-9._-]+$/.test(username))
    return 'Username may contain only letters A–Z, digits and . _ -'
  return ''
}
