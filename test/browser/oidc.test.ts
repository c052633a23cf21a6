import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import * as oidc from 'openid-client'
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { client, STRONG_PASSWORD, type Tokens } from '../support/http.js'
import { syncDateWith } from '../support/time.js'
import { appCode } from '../support/totp.js'
import { checkScreen, startRig, type BrowserRig } from './support.js'
import { redeem } from '../support/oidc.js'

/**
 * "Sign in with Gatehouse" in real Chromium (issue 13): a relying party built on openid-client
 * sends the browser to Gatehouse; the person signs in on the interaction screens with a
 * password and TOTP, allows the application, and lands on its redirect URI with a code that
 * openid-client redeems. Then: a denied consent, a second sign-in that goes straight through,
 * a consent revoked on the profile, an expired interaction, and a client that needs a second
 * factor from someone who has none yet.
 */

describe('signing in to another application through the web UI', { timeout: 180_000 }, () => {
  let rig: BrowserRig
  let context: BrowserContext
  let page: Page
  let secret = ''
  let wiki: oidc.Configuration
  let wikiRefreshToken = ''
  // The relying party: another site (localhost, where Gatehouse is 127.0.0.1) on its own port.
  let appServer: Server
  let CALLBACK = ''

  const heading = (p: Page, name: string) => p.getByRole('heading', { level: 1, name })

  /** The next TOTP step, so a code is never refused as a replay of the last one. */
  function freshTotp(s = secret): string {
    rig.clock.advance('30s')
    return appCode(s, rig.clock)
  }

  async function register(name: string, extra: { requireMfa?: boolean } = {}) {
    const { client: registered } = await rig.t.services.oidcClients.create(
      { name, type: 'public', redirectUris: [CALLBACK], ...extra },
      { actorId: null },
    )
    return oidc.discovery(new URL(rig.baseUrl), registered.clientId, undefined, oidc.None(), {
      execute: [oidc.allowInsecureRequests],
    })
  }

  async function start(config: oidc.Configuration, extra: Record<string, string> = {}) {
    const verifier = oidc.randomPKCECodeVerifier()
    const state = oidc.randomState()
    const nonce = oidc.randomNonce()
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: CALLBACK,
      scope: 'openid profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      ...extra,
    })
    return { url: url.href, verifier, state, nonce }
  }

  async function landed(p: Page): Promise<URL> {
    await p.waitForURL((u) => u.href.startsWith(CALLBACK))
    return new URL(p.url())
  }

  async function signIn(p: Page, username: string) {
    await p.getByLabel('Username or email').fill(username)
    await p.getByLabel('Password', { exact: true }).fill(STRONG_PASSWORD)
    await p.getByRole('button', { name: 'Sign in', exact: true }).click()
  }

  beforeAll(async () => {
    // Only the browser lands here; openid-client redeems the code from the URL it landed on.
    appServer = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end('<!DOCTYPE html><html lang="en"><title>App</title><h1>Back at the app</h1></html>')
    })
    await new Promise<void>((done) => appServer.listen(0, '127.0.0.1', done))
    CALLBACK = `http://localhost:${(appServer.address() as AddressInfo).port}/callback`
    rig = await startRig({}, { publicUrlIsBaseUrl: true })
    // alice has TOTP, enrolled through the API as the web UI's own tests do through the screens.
    await rig.t.services.accounts.create({
      username: 'alice',
      password: STRONG_PASSWORD,
      roles: ['user'],
    })
    const api = client(rig.t.app)
    const login = await api.post<Tokens>('/api/auth/login', {
      username: 'alice',
      password: STRONG_PASSWORD,
    })
    const setup = await api.post<{ secret: string }>(
      '/api/auth/2fa/totp/setup',
      {},
      login.body.access_token,
    )
    secret = setup.body.secret
    const enabled = await api.post(
      '/api/auth/2fa/totp/enable',
      { code: appCode(secret, rig.clock) },
      login.body.access_token,
    )
    expect(enabled.status).toBe(200)
    wiki = await register('Team wiki')
    context = await rig.newContext()
    page = await context.newPage()
  }, 180_000)
  afterAll(async () => {
    await rig?.close()
    await new Promise((done) => appServer?.close(done))
  })

  it('signs in with password and TOTP, asks consent naming the app and scopes, and the app gets its code', async () => {
    // offline_access (a refresh token) needs prompt=consent (OIDC Core §11).
    const auth = await start(wiki, {
      scope: 'openid profile email offline_access',
      prompt: 'consent',
    })
    await page.goto(auth.url)
    await heading(page, 'Sign in').waitFor()
    await page.getByText('Team wiki asks you to sign in with your Gatehouse account.').waitFor()
    // Gatehouse is at an IP address here, to which no passkey can be bound: none is offered.
    expect(await page.getByRole('button', { name: 'Sign in with a passkey' }).count()).toBe(0)
    expect(await page.getByLabel('Username or email').getAttribute('autocomplete')).toBe('username')
    await checkScreen(page, 'oidc-login')
    await signIn(page, 'alice')

    await heading(page, 'Second step').waitFor()
    await page.getByText('Team wiki asks you to sign in').waitFor()
    await checkScreen(page, 'oidc-second-factor')
    await page.getByRole('textbox', { name: 'Code' }).fill(freshTotp())
    await page.getByRole('button', { name: 'Verify' }).click()

    await heading(page, 'Allow Team wiki to use your account?').waitFor()
    const asked = page.getByRole('list', { name: 'What the application asks for' })
    await expect
      .poll(async () => (await asked.getByRole('listitem').allTextContents()).map((s) => s.trim()))
      .toEqual([
        'Know which Gatehouse account is yours',
        'See your username',
        'See your email address and whether it is verified',
        'Keep this access while you are away, until you revoke it',
      ])
    await page.getByText('You are signed in as alice.').waitFor()
    await checkScreen(page, 'oidc-consent')
    await page.getByRole('button', { name: 'Allow' }).click()

    const callback = await landed(page)
    expect(callback.searchParams.get('code')).toBeTruthy()
    const tokens = await redeem(wiki, callback, auth)
    expect(tokens.claims()).toMatchObject({ acr: 'mfa', amr: ['pwd', 'mfa', 'otp'] })
    wikiRefreshToken = tokens.refresh_token!
    expect(wikiRefreshToken).toBeTruthy()
  })

  it('a denied consent sends access_denied back to the application', async () => {
    const album = await register('Photo album')
    const auth = await start(album)
    // Already signed in: straight to the consent screen, nothing retyped.
    await page.goto(auth.url)
    await heading(page, 'Allow Photo album to use your account?').waitFor()
    await page.emulateMedia({ colorScheme: 'dark' })
    try {
      await checkScreen(page, 'oidc-consent-dark')
    } finally {
      await page.emulateMedia({ colorScheme: 'light' })
    }
    await page.getByRole('button', { name: 'Deny' }).click()
    const callback = await landed(page)
    expect(callback.searchParams.get('error')).toBe('access_denied')
    expect(callback.searchParams.get('state')).toBe(auth.state)
    expect(callback.searchParams.get('code')).toBeNull()
  })

  it('a second sign-in with the session and the remembered consent goes straight through', async () => {
    const auth = await start(wiki)
    await page.goto(auth.url)
    const callback = await landed(page)
    const tokens = await redeem(wiki, callback, auth)
    expect(tokens.claims()?.amr).toEqual(['pwd', 'mfa', 'otp'])

    // Without the provider's own session cookie, the Gatehouse session (its HttpOnly refresh
    // cookie) signs the person in on the interaction screen, again without typing anything.
    const providerCookies = (await context.cookies()).filter((c) => c.name.startsWith('_session'))
    expect(providerCookies.length).toBeGreaterThan(0)
    await context.clearCookies({ name: /^_session/ })
    const again = await start(wiki)
    await page.goto(again.url)
    const second = await landed(page)
    const more = await redeem(wiki, second, again)
    expect(more.claims()).toMatchObject({ acr: 'mfa' })
  })

  it('after a sign-in at Gatehouse itself, an application signs the person in silently (prompt=none)', async () => {
    const own = await rig.newContext()
    const p = await own.newPage()
    const silent = () => start(wiki, { prompt: 'none' })
    const before = await silent()
    await p.goto(before.url)
    expect((await landed(p)).searchParams.get('error')).toBe('login_required')

    await p.goto(`${rig.baseUrl}/login`)
    await signIn(p, 'alice')
    await heading(p, 'Second step').waitFor()
    await p.getByRole('textbox', { name: 'Code' }).fill(freshTotp())
    await p.getByRole('button', { name: 'Verify' }).click()
    await expect
      .poll(async () => (await own.cookies()).some((c) => c.name === '_session'))
      .toBe(true)

    const after = await silent()
    await p.goto(after.url)
    const callback = await landed(p)
    expect(callback.searchParams.get('error')).toBeNull()
    expect((await redeem(wiki, callback, after)).claims()).toMatchObject({ acr: 'mfa' })
    await own.close()
  })

  it('lists the consent on the profile; revoking it ends the refresh token and asks again', async () => {
    await page.goto('/profile')
    const apps = page.getByRole('region', { name: 'Applications you signed in to' })
    await apps.getByRole('cell', { name: 'Team wiki', exact: true }).waitFor()
    await apps
      .getByRole('cell', { name: 'Photo album', exact: true })
      .waitFor({ state: 'detached' })
    await checkScreen(page, 'profile-applications')

    await apps.getByRole('button', { name: 'Revoke access of Team wiki' }).click()
    await page.getByText('Team wiki can no longer use your account.').waitFor()
    await page.getByText('No application uses your Gatehouse account.').waitFor()
    await expect(oidc.refreshTokenGrant(wiki, wikiRefreshToken)).rejects.toMatchObject({
      error: 'invalid_grant',
    })

    const auth = await start(wiki)
    await page.goto(auth.url)
    await heading(page, 'Allow Team wiki to use your account?').waitFor()
    await page.getByRole('button', { name: 'Allow' }).click()
    expect((await landed(page)).searchParams.get('code')).toBeTruthy()
  })

  it('prompt=login asks someone already signed in to sign in again, and says why', async () => {
    // The provider dates the request with Date; the session with the app's clock. Both move
    // together here, so "a session older than the request" is what the test makes it.
    const time = syncDateWith(rig.clock)
    try {
      time.advance('10m')
      const auth = await start(wiki, { prompt: 'login' })
      await page.goto(auth.url)
      await heading(page, 'Sign in').waitFor()
      await page.getByText('Team wiki asks you to sign in again.').waitFor()
      await signIn(page, 'alice')
      await heading(page, 'Second step').waitFor()
      time.advance('30s')
      await page.getByRole('textbox', { name: 'Code' }).fill(appCode(secret, rig.clock))
      await page.getByRole('button', { name: 'Verify' }).click()
      // The consent given before is remembered: straight back to the application.
      const callback = await landed(page)
      const tokens = await redeem(wiki, callback, auth)
      const claims = tokens.claims()!
      expect(claims.amr).toEqual(['pwd', 'mfa', 'otp'])
      expect(claims.auth_time! * 1000).toBeGreaterThanOrEqual(rig.clock.now().getTime() - 31_000)
    } finally {
      time.restore()
    }
  })

  it('an expired or unknown interaction says so plainly', async () => {
    await page.goto('/oidc-interaction/no-such-sign-in')
    await heading(page, 'This sign-in has expired').waitFor()
    await checkScreen(page, 'oidc-expired')
  })

  it('a client that requires MFA sends someone without a second factor to enrol first, then back', async () => {
    await rig.t.services.accounts.create({
      username: 'bob',
      password: STRONG_PASSWORD,
      roles: ['user'],
    })
    const vault = await register('Vault', { requireMfa: true })
    const bobContext = await rig.newContext()
    try {
      const p = await bobContext.newPage()
      const auth = await start(vault)
      await p.goto(auth.url)
      await heading(p, 'Sign in').waitFor()
      await p.getByText('Vault asks for a sign-in with a second factor.').waitFor()
      await signIn(p, 'bob')

      await heading(p, 'Set up two-step sign-in first').waitFor()
      await checkScreen(p, 'oidc-enrol')
      await p.getByRole('link', { name: 'Set up an authenticator app' }).click()
      await heading(p, 'Set up an authenticator app').waitFor()
      const bobSecret = ((await p.getByTestId('totp-secret').textContent()) ?? '').replace(
        /\s/g,
        '',
      )
      await p.getByLabel('Code from the app').fill(freshTotp(bobSecret))
      await p.getByRole('button', { name: 'Turn on' }).click()
      await p.getByRole('link', { name: 'Continue signing in' }).click()

      // The session bob has was opened with a password alone: he signs in again with the factor.
      await heading(p, 'Sign in').waitFor()
      await signIn(p, 'bob')
      await heading(p, 'Second step').waitFor()
      await p.getByRole('textbox', { name: 'Code' }).fill(freshTotp(bobSecret))
      await p.getByRole('button', { name: 'Verify' }).click()
      await heading(p, 'Allow Vault to use your account?').waitFor()
      await p.getByRole('button', { name: 'Allow' }).click()
      const callback = await landed(p)
      const tokens = await redeem(vault, callback, auth)
      expect(tokens.claims()).toMatchObject({ acr: 'mfa', amr: ['pwd', 'mfa', 'otp'] })
    } finally {
      await bobContext.close()
    }
  })

  it('"Use another account" on the consent screen signs out and asks whoever signs in next', async () => {
    const [, daveId] = await Promise.all(
      ['carol', 'dave'].map((username) =>
        rig.t.services.accounts.create({ username, password: STRONG_PASSWORD, roles: ['user'] }),
      ),
    )
    const recipes = await register('Recipe box')
    const shared = await rig.newContext()
    try {
      const p = await shared.newPage()
      const auth = await start(recipes)
      await p.goto(auth.url)
      await heading(p, 'Sign in').waitFor()
      await signIn(p, 'carol')
      await heading(p, 'Allow Recipe box to use your account?').waitFor()
      await p.getByText('You are signed in as carol.').waitFor()
      await p.getByRole('button', { name: 'Use another account' }).click()

      await heading(p, 'Sign in').waitFor()
      await p.getByText('Recipe box asks you to sign in with your Gatehouse account.').waitFor()
      await signIn(p, 'dave')
      await heading(p, 'Allow Recipe box to use your account?').waitFor()
      await p.getByText('You are signed in as dave.').waitFor()
      await p.getByRole('button', { name: 'Allow' }).click()
      const callback = await landed(p)
      const tokens = await redeem(recipes, callback, auth)
      expect(tokens.claims()?.sub).toBe(daveId)
      // carol signed out: her Gatehouse session from this browser is over, and she allowed nothing.
      const carol = await rig.t.services.db
        .selectFrom('sessions')
        .innerJoin('users', 'users.id', 'sessions.user_id')
        .select(['sessions.ended_at'])
        .where('users.username', '=', 'carol')
        .execute()
      expect(carol).toHaveLength(1)
      expect(carol[0]!.ended_at).not.toBeNull()
      const grants = await rig.t.services.db
        .selectFrom('oidc_consents')
        .innerJoin('users', 'users.id', 'oidc_consents.account_id')
        .select('users.username')
        .where('oidc_consents.client_id', '=', recipes.clientMetadata().client_id)
        .execute()
      expect(grants.map((g) => g.username)).toEqual(['dave'])
    } finally {
      await shared.close()
    }
  })

  it("an application's sign-out asks on a Gatehouse page, and ends the sign-in there", async () => {
    const auth = await start(wiki)
    await page.goto(auth.url)
    const tokens = await redeem(wiki, await landed(page), auth)
    await page.goto(oidc.buildEndSessionUrl(wiki, { id_token_hint: tokens.id_token! }).href)
    await heading(page, 'Sign out?').waitFor()
    await page.getByText('Team wiki asks to sign you out.').waitFor()
    await checkScreen(page, 'oidc-logout')
    await page.getByRole('button', { name: 'Sign out', exact: true }).click()
    await heading(page, 'You are signed out').waitFor()
    await checkScreen(page, 'oidc-signed-out')

    const silent = await start(wiki, { prompt: 'none' })
    await page.goto(silent.url)
    expect((await landed(page)).searchParams.get('error')).toBe('login_required')
  })
})
