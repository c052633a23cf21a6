import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ALL_NOTIFICATIONS } from '../support/harness.js'
import { client, STRONG_PASSWORD, type Tokens } from '../support/http.js'
import { codeIn } from '../support/mail.js'
import { checkScreen, startRig, type BrowserRig } from './support.js'

/**
 * The "this wasn't me" page of a security notification (issue 14, SPEC §4.13 and §7): opening
 * the link does nothing (mail scanners open links), the button ends every session, blocks the
 * password and signs this browser out, and the link works once.
 */
describe('the web UI, "this wasn\'t me" from a security mail', { timeout: 180_000 }, () => {
  let rig: BrowserRig
  let page: Page
  const email = 'olga@example.test'
  const heading = (name: string) => page.getByRole('heading', { level: 1, name })
  const login = () =>
    client(rig.t.app).post<Tokens & { code?: string }>('/api/auth/login', {
      username: 'olga',
      password: STRONG_PASSWORD,
    })

  beforeAll(async () => {
    rig = await startRig({ NOTIFY_EVENTS: ALL_NOTIFICATIONS })
    page = await (await rig.newContext()).newPage()
  }, 180_000)
  afterAll(async () => {
    await rig?.close()
  })

  it('explains, confirms on a click only, signs out everywhere and works once', async () => {
    const api = client(rig.t.app)
    expect(
      (await api.post('/api/auth/register', { username: 'olga', password: STRONG_PASSWORD, email }))
        .status,
    ).toBe(201)
    const code = codeIn((await rig.mail.next(email)).text)
    expect(
      (await api.post('/api/auth/verify-contact', { username: 'olga', channel: 'email', code }))
        .status,
    ).toBe(200)

    // Olga signs in in this browser: her first login, so there is nothing to call new.
    await page.goto('/login')
    await page.getByLabel('Username or email').fill('olga')
    await page.getByLabel('Password', { exact: true }).fill(STRONG_PASSWORD)
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await heading('Your account').waitFor()

    // Someone else signs in with her password from another device: she gets the notice.
    const intruder = await login()
    expect(intruder.status).toBe(200)
    const notice = await rig.mail.next(email)
    expect(notice.subject).toBe('Gatehouse: New sign-in')
    const link = /\/not-me\?token=[A-Za-z0-9_-]+/.exec(notice.text)![0]

    await page.goto(link)
    await heading("This wasn't me").waitFor()
    await page.getByText('sign your account out everywhere').waitFor()
    const forgot = page.getByRole('link', { name: 'Forgot password?' })
    expect(await forgot.getAttribute('href')).toBe('/password/forgot')
    await checkScreen(page, 'not-me')

    // Opening the page reported nothing: the password and this browser's session still work.
    expect((await login()).status).toBe(200)
    await page.getByRole('button', { name: 'Sign out', exact: true }).waitFor()

    await page.getByRole('button', { name: /it wasn't me: sign out everywhere/ }).click()
    await page.getByRole('status').getByText('Every session of your account').waitFor()
    expect(await page.getByRole('link', { name: 'Reset your password' }).getAttribute('href')).toBe(
      '/password/forgot',
    )
    // The in-memory session is gone with the server's: the menu offers to sign in again.
    await page.getByRole('link', { name: 'Sign in' }).waitFor()
    expect(await page.getByRole('button', { name: 'Sign out', exact: true }).count()).toBe(0)
    await checkScreen(page, 'not-me-done')

    const refused = await login()
    expect(refused.status).toBe(403)
    expect(refused.body.code).toBe('password_reset_required')
    const stolen = await api.post('/api/auth/refresh', {
      refresh_token: intruder.body.refresh_token,
    })
    expect(stolen.status).toBe(401)

    // The link works once: opening it again and confirming says so in plain words.
    await page.goto(link)
    await heading("This wasn't me").waitFor()
    await page.getByRole('button', { name: /it wasn't me: sign out everywhere/ }).click()
    await page.getByRole('alert').getByText('already been used').waitFor()
    expect(await page.getByRole('button', { name: /sign out everywhere/ }).count()).toBe(0)
    await checkScreen(page, 'not-me-used')
  })
})
