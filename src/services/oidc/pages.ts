/**
 * The few pages the provider renders itself, outside the web UI: its error page and the two
 * pages of RP-initiated logout. The library's own load a web font from Google (a request to a
 * third party from the sign-in server, and one our Content Security Policy refuses anyway) and
 * name the server's host where people expect the application's name.
 */

const escape = (value: unknown) =>
  String(value).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`)

const STYLE = [
  'body{font-family:system-ui,sans-serif;line-height:1.5;margin:0;padding:2rem 1rem;color:#1b1b1f;background:#fff}',
  'main{max-width:28rem;margin:0 auto}',
  'h1{font-size:1.5rem;margin:0 0 1rem}',
  '.actions{display:flex;flex-wrap:wrap;gap:.5rem;margin-top:1.5rem}',
  'button{font:inherit;padding:.5rem 1rem;border-radius:.375rem;border:1px solid #1f5fbf;background:#1f5fbf;color:#fff;cursor:pointer}',
  'button.secondary{background:#fff;color:#1f5fbf}',
  'a{color:#1f5fbf}',
  '@media (prefers-color-scheme:dark){body{background:#17171a;color:#ececf1}button.secondary{background:#17171a;color:#8fb8ff}a{color:#8fb8ff}}',
].join('')

/** `body` is trusted HTML: callers escape every value in it. */
function page(title: string, body: string): string {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escape(title)}</title><style>${STYLE}</style></head><body><main>${body}</main></body></html>`
}

export function errorPage(error: unknown, description: unknown): string {
  return page('Sign-in error', `<h1>${escape(error)}</h1><p>${escape(description ?? '')}</p>`)
}

/**
 * Asks before ending the provider session. `form` is the library's hidden form (its anti-CSRF
 * token); the buttons submit it, "Sign out" with `logout=yes`.
 */
export function logoutPage(form: string, appName: string | undefined): string {
  const who = appName
    ? `<strong>${escape(appName)}</strong> asks to sign you out.`
    : 'An application asks to sign you out.'
  return page(
    'Sign out?',
    `<h1>Sign out?</h1><p>${who} This signs you out of Gatehouse and of the applications you opened with it in this browser.</p>${form}<div class="actions"><button autofocus type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button><button class="secondary" type="submit" form="op.logoutForm">Stay signed in</button></div>`,
  )
}

/** After a logout that named no page of the application to return to. */
export function loggedOutPage(appName: string | undefined): string {
  const from = appName ? ` of <strong>${escape(appName)}</strong>` : ''
  return page(
    'Signed out',
    `<h1>You are signed out</h1><p>You signed out${from}. You can close this page.</p><p><a href="/profile">Go to your Gatehouse account</a></p>`,
  )
}
