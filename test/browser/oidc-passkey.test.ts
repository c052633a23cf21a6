import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import * as oidc from 'openid-client'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { STRONG_PASSWORD } from '../support/http.js'
import { codeIn } from '../support/mail.js'
import {
  checkScreen,
  newPasskeyDevice,
  startRig,
  type BrowserRig,
  type PasskeyDevice,
} from './support.js'
import { redeem as redeemCode } from '../support/oidc.js'

/**
 * "Sign in with Gatehouse" with everything Gatehouse offers (issue 13): someone new creates an
 * account from an application's sign-in and is brought back to it; then signs in to another
 * application with a passkey alone, and with the password and the passkey as the second step.
 *
 * Passkeys need http://localhost (the only plain-http secure context), so the rig's browser
 * reaches Gatehouse there and the issuer (PUBLIC_URL) is http://localhost too. openid-client
 * runs in Node, outside Chromium's host resolver: its requests for the issuer go to the real
 * port through the rig's routed fetch. The application is on 127.0.0.1, since every
 * localhost address in this Chromium leads to Gatehouse.
 */
describe('signing in to another application with a passkey', { timeout: 180_000 }, () => {
  let rig: BrowserRig
  let device: PasskeyDevice
  let page: Page
  let appServer: Server
  let CALLBACK = ''
  let wiki: oidc.Configuration
  let album: oidc.Configuration
  const email = 'pia@example.test'

  const heading = (p: Page, name: string) => p.getByRole('heading', { level: 1, name })

  async function register(name: string) {
    const { client: registered } = await rig.t.services.oidcClients.create(
      { name, type: 'public', redirectUris: [CALLBACK] },
      { actorId: null },
    )
    return oidc.discovery(new URL(rig.baseUrl), registered.clientId, undefined, oidc.None(), {
      execute: [oidc.allowInsecureRequests],
      [oidc.customFetch]: (url, options) => rig.fetch(url, options),
    })
  }

  async function start(config: oidc.Configuration) {
    const verifier = oidc.randomPKCECodeVerifier()
    const state = oidc.randomState()
    const nonce = oidc.randomNonce()
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: CALLBACK,
      scope: 'openid profile email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    })
    return { url: url.href, verifier, state, nonce }
  }

  /** Waits for the browser at the application, and redeems the code there as it would. */
  async function redeem(config: oidc.Configuration, auth: Awaited<ReturnType<typeof start>>) {
    await page.waitForURL((u) => u.href.startsWith(CALLBACK))
    const callback = new URL(page.url())
    expect(callback.searchParams.get('code')).toBeTruthy()
    const tokens = await redeemCode(config, callback, auth)
    return { claims: tokens.claims()!, tokens }
  }

  async function signOut() {
    await page.goto('/profile')
    await page.getByRole('button', { name: 'Sign out', exact: true }).click()
    await heading(page, 'Sign in').waitFor()
  }

  beforeAll(async () => {
    appServer = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end('<!DOCTYPE html><html lang="en"><title>App</title><h1>Back at the app</h1></html>')
    })
    await new Promise<void>((done) => appServer.listen(0, '127.0.0.1', done))
    CALLBACK = `http://127.0.0.1:${(appServer.address() as AddressInfo).port}/callback`
    rig = await startRig({}, { localhost: true })
    wiki = await register('Team wiki')
    album = await register('Photo album')
    device = await newPasskeyDevice(rig, { autofill: false })
    page = device.page
  }, 180_000)
  afterAll(async () => {
    await rig?.close()
    await new Promise((done) => appServer?.close(done))
  })

  it('creates an account from the application’s sign-in, verifies the email, and goes back to it', async () => {
    const auth = await start(wiki)
    await page.goto(auth.url)
    await heading(page, 'Sign in').waitFor()
    await page.getByRole('main').getByRole('link', { name: 'Create an account' }).click()

    await heading(page, 'Create an account').waitFor()
    await page.getByText('Team wiki asks you to sign in with your Gatehouse account.').waitFor()
    await checkScreen(page, 'oidc-register')
    await page.getByLabel('Username', { exact: true }).fill('pia')
    await page.getByLabel('Email').fill(email)
    await page.getByLabel('Password', { exact: true }).fill(STRONG_PASSWORD)
    await page.getByRole('button', { name: 'Create account' }).click()

    await heading(page, 'Verify your contact').waitFor()
    await page.getByLabel('Verification code').fill(codeIn((await rig.mail.next(email)).text))
    await page.getByRole('button', { name: 'Verify' }).click()

    await heading(page, 'Allow Team wiki to use your account?').waitFor()
    await page.getByText('You are signed in as pia.').waitFor()
    await page.getByRole('button', { name: 'Allow' }).click()
    const { claims, tokens } = await redeem(wiki, auth)
    expect(claims.amr).toEqual(['pwd'])
    // The email verified on the way is what the application learns.
    const info = await oidc.fetchUserInfo(wiki, tokens.access_token, claims.sub)
    expect(info).toMatchObject({ preferred_username: 'pia', email, email_verified: true })
  })

  it('a redirect to another site is not followed from the registration', async () => {
    await page.goto('/register?redirect=//evil.example/')
    await heading(page, 'Create an account').waitFor()
    const signIn = page.getByRole('main').getByRole('link', { name: 'Sign in', exact: true })
    expect(await signIn.getAttribute('href')).toBe('/login')
  })

  it('adds a passkey; removing it from a password-only session says how to sign in', async () => {
    await page.goto('/profile')
    const section = page.getByRole('region', { name: 'Passkeys' })
    await section.getByLabel('Passkey name').fill('Laptop')
    await section.getByRole('button', { name: 'Add a passkey' }).click()
    await section.getByText('The passkey "Laptop" is added.').waitFor()

    // This session proved the password alone, from before the passkey existed.
    page.once('dialog', (d) => void d.accept())
    await section.getByRole('button', { name: 'Remove Laptop' }).click()
    await expect
      .poll(() => section.getByRole('alert').textContent())
      .toBe(
        'Changing your passkeys needs a sign-in that used your second factor. Sign out, then sign in again with a passkey, or with your password and second step.',
      )
    await checkScreen(page, 'passkeys-remove-needs-second-factor')
  })

  it('signs in with "Sign in with a passkey", allows the application, and the ID token says hwk', async () => {
    await signOut()
    const auth = await start(album)
    await page.goto(auth.url)
    await heading(page, 'Sign in').waitFor()
    await page.getByText('Photo album asks you to sign in with your Gatehouse account.').waitFor()
    await checkScreen(page, 'oidc-passkey-login')
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click()

    await heading(page, 'Allow Photo album to use your account?').waitFor()
    await page.getByText('You are signed in as pia.').waitFor()
    await page.getByRole('button', { name: 'Allow' }).click()
    const { claims } = await redeem(album, auth)
    expect(claims.amr).toContain('hwk')
    expect(claims.acr).toBe('mfa')
  })

  it('signs in with the password and the passkey as the second step', async () => {
    await signOut()
    const auth = await start(album)
    await page.goto(auth.url)
    await heading(page, 'Sign in').waitFor()
    await page.getByLabel('Username or email').fill('pia')
    await page.getByLabel('Password', { exact: true }).fill(STRONG_PASSWORD)
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()

    await heading(page, 'Second step').waitFor()
    await page.getByText('Photo album asks you to sign in').waitFor()
    await checkScreen(page, 'oidc-passkey-second-factor')
    await page.getByRole('button', { name: 'Use a passkey' }).click()
    // The consent given before is remembered: straight back to the application.
    const { claims } = await redeem(album, auth)
    expect(claims).toMatchObject({ acr: 'mfa', amr: ['pwd', 'mfa', 'hwk'] })
  })
})
