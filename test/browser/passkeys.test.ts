import type { BrowserContext, CDPSession, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { STRONG_PASSWORD } from '../support/http.js'
import { appCode } from '../support/totp.js'
import {
  checkScreen,
  newPasskeyDevice,
  refreshCookie,
  startRig,
  type BrowserRig,
} from './support.js'

/**
 * Passkeys in the web UI (issue 12, SPEC §4.9), with Chromium's virtual authenticator standing
 * in for a phone or laptop with a fingerprint reader: add one from the profile, use it as the
 * second step after the password, sign in with it alone, rename and remove it.
 */
describe('passkeys in the web UI', { timeout: 180_000 }, () => {
  let rig: BrowserRig
  let context: BrowserContext
  let page: Page
  let cdp: CDPSession
  let authenticatorId = ''

  const heading = (p: Page, name: string) => p.getByRole('heading', { level: 1, name })
  const passkeyRows = () =>
    page
      .getByRole('region', { name: 'Passkeys' })
      .getByRole('row')
      .filter({ hasNot: page.locator('th') })

  const newDevice = (opts: { autofill: boolean }) => newPasskeyDevice(rig, opts)

  async function credentials() {
    return (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials
  }

  async function signOut(p = page) {
    await p.getByRole('button', { name: 'Sign out', exact: true }).click()
    await heading(p, 'Sign in').waitFor()
  }

  async function signIn(p: Page, username: string) {
    await p.getByLabel('Username or email').fill(username)
    await p.getByLabel('Password', { exact: true }).fill(STRONG_PASSWORD)
    await p.getByRole('button', { name: 'Sign in', exact: true }).click()
  }

  beforeAll(async () => {
    rig = await startRig({}, { localhost: true })
    const device = await newDevice({ autofill: false })
    context = device.context
    page = device.page
    cdp = device.cdp
    authenticatorId = device.authenticatorId
  }, 180_000)
  afterAll(async () => {
    await rig?.close()
  })

  it('adds a named passkey from the profile', async () => {
    await page.goto('/register')
    await heading(page, 'Create an account').waitFor()
    await page.getByLabel('Username', { exact: true }).fill('pat')
    await page.getByLabel('Password', { exact: true }).fill(STRONG_PASSWORD)
    await page.getByRole('button', { name: 'Create account' }).click()
    await heading(page, 'Your account').waitFor()

    const section = page.getByRole('region', { name: 'Passkeys' })
    await section.getByText('You have no passkeys yet.').waitFor()
    await checkScreen(page, 'passkeys-profile-empty')
    await section.getByLabel('Passkey name').fill('Work laptop')
    await section.getByRole('button', { name: 'Add a passkey' }).click()
    await section.getByText('The passkey "Work laptop" is added.').waitFor()
    await expect.poll(() => passkeyRows().count()).toBe(1)
    expect(await passkeyRows().first().getByRole('cell').allTextContents()).toEqual([
      'Work laptop',
      expect.any(String),
      'never',
      expect.stringContaining('Rename'),
    ])
    await page.getByText('Passkeys: 1').waitFor()

    // A discoverable credential on the authenticator, bound to the RP id.
    const held = await credentials()
    expect(held).toHaveLength(1)
    expect(held[0]).toMatchObject({ isResidentCredential: true, rpId: 'localhost' })
    await checkScreen(page, 'passkeys-profile')
  })

  it('signs in with the password and the passkey as the second step', async () => {
    await signOut()
    expect(await refreshCookie(context)).toBeUndefined()
    await signIn(page, 'pat')
    await heading(page, 'Second step').waitFor()
    // A passkey is the only factor: no code form to fill.
    expect(await page.getByLabel('Code', { exact: true }).count()).toBe(0)
    await checkScreen(page, 'passkeys-second-factor')

    await page.getByRole('button', { name: 'Use a passkey' }).click()
    await heading(page, 'Your account').waitFor()
    expect(await refreshCookie(context)).toBeDefined()
    await expect
      .poll(() => passkeyRows().first().getByRole('cell').nth(2).textContent())
      .not.toBe('never')
  })

  it('signs in without a password, with "Sign in with a passkey"', async () => {
    await signOut()
    expect(await refreshCookie(context)).toBeUndefined()
    // Where the browser has autofill for passkeys, the username field offers them.
    expect(await page.getByLabel('Username or email').getAttribute('autocomplete')).toBe(
      'username webauthn',
    )
    await checkScreen(page, 'passkeys-login')

    const asked = page.waitForRequest((r) => r.url().endsWith('/api/auth/passkey/options'))
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click()
    await asked
    await heading(page, 'Your account').waitFor()
    expect(await refreshCookie(context)).toBeDefined()
    // The session survives a reload through the cookie, as a password sign-in does.
    await page.reload()
    await heading(page, 'Your account').waitFor()
  })

  it('signs in by picking the passkey from the username field (conditional mediation)', async () => {
    // The same passkey, synced to a browser with autofill for passkeys.
    const synced = await newDevice({ autofill: true })
    for (const credential of await credentials()) {
      await synced.cdp.send('WebAuthn.addCredential', {
        authenticatorId: synced.authenticatorId,
        credential,
      })
    }
    // The virtual authenticator picks the suggestion as soon as the login page offers it.
    const verified = synced.page.waitForResponse((r) =>
      r.url().endsWith('/api/auth/passkey/verify'),
    )
    await synced.page.goto('/login')
    expect((await verified).status()).toBe(200)
    await heading(synced.page, 'Your account').waitFor()
    expect(await refreshCookie(synced.context)).toBeDefined()
    await synced.context.close()
  })

  it('renames the passkey, refusing an empty name beside the field', async () => {
    const section = page.getByRole('region', { name: 'Passkeys' })
    await section.getByRole('button', { name: 'Rename Work laptop' }).click()
    const field = section.getByLabel('New name for Work laptop')
    await field.fill('   ')
    await section.getByRole('button', { name: 'Save name' }).click()
    await expect.poll(() => field.getAttribute('aria-invalid')).toBe('true')
    await checkScreen(page, 'passkeys-rename')

    await field.fill('Phone')
    await section.getByRole('button', { name: 'Save name' }).click()
    await section.getByText('The passkey is renamed.').waitFor()
    await expect
      .poll(() => passkeyRows().first().getByRole('cell').first().textContent())
      .toBe('Phone')
  })

  it('removes the passkey only after a confirmation', async () => {
    const section = page.getByRole('region', { name: 'Passkeys' })
    page.once('dialog', (d) => void d.dismiss())
    await section.getByRole('button', { name: 'Remove Phone' }).click()
    expect(await passkeyRows().count()).toBe(1)

    page.once('dialog', (d) => {
      expect(d.message()).toBe('Remove the passkey "Phone"? It will no longer sign you in.')
      void d.accept()
    })
    await section.getByRole('button', { name: 'Remove Phone' }).click()
    await section.getByText('The passkey "Phone" is removed.').waitFor()
    await section.getByText('You have no passkeys yet.').waitFor()
    await page.getByText('Passkeys: 0').waitFor()
  })

  it('shows a refused passkey as a problem, and a prompt with no passkey calmly', async () => {
    await signOut()
    // The authenticator still holds the passkey the server no longer knows.
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click()
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toBe('That passkey was not accepted. Try again, or choose another way.')

    // With none left on the authenticator, the browser answers NotAllowedError.
    await cdp.send('WebAuthn.clearCredentials', { authenticatorId })
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click()
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toBe(
        'No passkey was used: the request was cancelled or timed out. Try again when you are ready.',
      )
    await checkScreen(page, 'passkeys-cancelled')
  })

  it('is accessible in dark mode too', async () => {
    await page.emulateMedia({ colorScheme: 'dark' })
    await checkScreen(page, 'passkeys-login-dark')
    await signIn(page, 'pat')
    await heading(page, 'Your account').waitFor()
    await page.getByRole('region', { name: 'Passkeys' }).getByLabel('Passkey name').fill('Key')
    await page.getByRole('button', { name: 'Add a passkey' }).click()
    await page.getByText('The passkey "Key" is added.').waitFor()
    await checkScreen(page, 'passkeys-profile-dark')
    await signOut()
    await signIn(page, 'pat')
    await heading(page, 'Second step').waitFor()
    await checkScreen(page, 'passkeys-second-factor-dark')
    await page.emulateMedia({ colorScheme: 'light' })
  })

  it('offers the passkey beside the codes when the account has both', async () => {
    const { context: own, page: p } = await newDevice({ autofill: false })
    await p.goto('/register')
    await p.getByLabel('Username', { exact: true }).fill('quinn')
    await p.getByLabel('Password', { exact: true }).fill(STRONG_PASSWORD)
    await p.getByRole('button', { name: 'Create account' }).click()
    await heading(p, 'Your account').waitFor()
    await p.getByRole('button', { name: 'Add a passkey' }).click()
    await p.getByText('The passkey "Passkey 1" is added.').waitFor()

    // A further factor needs a sign-in that proved one: the passkey's.
    await signOut(p)
    await p.getByRole('button', { name: 'Sign in with a passkey' }).click()
    await heading(p, 'Your account').waitFor()
    await p.getByRole('link', { name: 'Set up an authenticator app' }).click()
    const secret = ((await p.getByTestId('totp-secret').textContent()) ?? '').replaceAll(' ', '')
    await p.getByLabel('Code from the app').fill(appCode(secret, rig.clock))
    await p.getByRole('button', { name: 'Turn on' }).click()
    await p.getByRole('list', { name: 'Backup codes' }).waitFor()

    await p.goto('/profile')
    await signOut(p)
    await signIn(p, 'quinn')
    await heading(p, 'Second step').waitFor()
    await p.getByRole('button', { name: 'Use a passkey' }).waitFor()
    await p.getByRole('radio', { name: 'Authenticator app' }).waitFor()
    await checkScreen(p, 'passkeys-second-factor-with-codes')
    rig.clock.advance('30s')
    await p.getByLabel('Code', { exact: true }).fill(appCode(secret, rig.clock))
    await p.getByRole('button', { name: 'Verify' }).click()
    await heading(p, 'Your account').waitFor()
    await own.close()
  })
})
