import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { client, STRONG_PASSWORD } from '../support/http.js'
import { appCode } from '../support/totp.js'
import { checkScreen, startRig, type BrowserRig } from './support.js'

/**
 * The admin screens and products (issue 11): roles, users, audit log, API keys, and products
 * whose controls follow the signed-in person's permissions — in real Chromium.
 */
describe('the web UI for admins and products', { timeout: 180_000 }, () => {
  let rig: BrowserRig
  let context: BrowserContext
  let page: Page
  let adminSecret = ''
  const ids: Record<string, string> = {}

  const heading = (p: Page, name: string) => p.getByRole('heading', { level: 1, name })

  async function signIn(p: Page, username: string, totpSecret?: string) {
    await p.goto('/login')
    await p.getByLabel('Username or email').fill(username)
    await p.getByLabel('Password', { exact: true }).fill(STRONG_PASSWORD)
    await p.getByRole('button', { name: 'Sign in', exact: true }).click()
    if (totpSecret) {
      await heading(p, 'Second step').waitFor()
      rig.clock.advance('30s')
      await p.getByLabel('Code', { exact: true }).fill(appCode(totpSecret, rig.clock))
      await p.getByRole('button', { name: 'Verify' }).click()
    }
    await heading(p, 'Your account').waitFor()
  }

  beforeAll(async () => {
    rig = await startRig()
    const { accounts, products } = rig.t.services
    ids.admin = await accounts.create({
      username: 'root-admin',
      password: STRONG_PASSWORD,
      roles: ['admin', 'user'],
    })
    // Admin endpoints need an MFA-verified token (REQUIRE_MFA_FOR_ROLES=admin): give it TOTP.
    const api = client(rig.t.app)
    const login = await api.post<{ access_token: string }>('/api/auth/login', {
      username: 'root-admin',
      password: STRONG_PASSWORD,
    })
    const setup = await api.post<{ secret: string }>(
      '/api/auth/2fa/totp/setup',
      undefined,
      login.body.access_token,
    )
    adminSecret = setup.body.secret
    const enable = await api.post(
      '/api/auth/2fa/totp/enable',
      { code: appCode(adminSecret, rig.clock) },
      login.body.access_token,
    )
    expect(enable.status).toBe(200)
    for (let i = 1; i <= 24; i++) {
      const name = `member-${String(i).padStart(2, '0')}`
      ids[name] = await accounts.create({
        username: name,
        password: STRONG_PASSWORD,
        email: `${name}@example.test`,
      })
    }
    // Enough audit events for a second page: failed sign-ins of one member.
    for (let i = 0; i < 20; i++) {
      await api.post('/api/auth/login', { username: 'member-20', password: 'not the password' })
    }
    for (let i = 1; i <= 23; i++) {
      await products.create({
        name: `Item ${String(i).padStart(2, '0')}`,
        description: 'stock item',
        price: i + 0.5,
        quantity: i,
      })
    }
    context = await rig.newContext()
    page = await context.newPage()
    page.on('dialog', (dialog) => void dialog.accept())
    await signIn(page, 'root-admin', adminSecret)
  }, 180_000)
  afterAll(async () => {
    await rig?.close()
  })

  it('roles: lists them and creates one', async () => {
    await page.getByRole('link', { name: 'Roles' }).click()
    await heading(page, 'Roles').waitFor()
    await page.getByRole('cell', { name: 'admin', exact: true }).waitFor()
    await page.getByLabel('Name').fill('editor')
    await page.getByLabel('Permissions').fill('products:read, products:write')
    await page.getByRole('button', { name: 'Create role' }).click()
    await page.getByText('Role editor created.').waitFor()
    await page.getByRole('cell', { name: 'products:read, products:write' }).waitFor()

    // A duplicate is the server's 409, shown in words beside the name, which gets the focus.
    await page.getByLabel('Name').fill('editor')
    await page.getByLabel('Permissions').fill('products:read')
    await page.getByRole('button', { name: 'Create role' }).click()
    await page.getByText('A role named editor already exists.').waitFor()
    const name = page.getByLabel('Name')
    expect(await name.getAttribute('aria-invalid')).toBe('true')
    await expect.poll(() => name.evaluate((el) => el === el.ownerDocument.activeElement)).toBe(true)
    await checkScreen(page, 'admin-roles')
  })

  it('users: search, paging, lock and unlock, disable, roles, reset two-step', async () => {
    await page.getByRole('link', { name: 'Users' }).click()
    await heading(page, 'Users').waitFor()
    const cards = page.locator('ul.cards > li')
    await expect.poll(() => cards.count()).toBe(20)
    await page.getByRole('button', { name: 'Next page' }).click()
    await page.getByText('Page 2').waitFor()
    await expect.poll(() => cards.count()).toBe(5)
    await page.getByRole('button', { name: 'Previous page' }).click()
    await page.getByText('Page 1').waitFor()

    await page.getByLabel('Search by username or email').fill('member-1')
    await page.getByRole('button', { name: 'Search' }).click()
    await expect.poll(() => cards.count()).toBe(10)
    expect(new URL(page.url()).searchParams.get('q')).toBe('member-1')
    await checkScreen(page, 'admin-users')

    await page.getByRole('button', { name: 'Lock member-12' }).click()
    await page.getByText('member-12 was locked.').waitFor()
    expect(await rig.t.services.profiles.get(ids['member-12']!)).toMatchObject({ locked: true })
    await page.getByRole('button', { name: 'Unlock member-12' }).click()
    await page.getByText('member-12 was unlocked.').waitFor()

    await page.getByRole('button', { name: 'Disable member-13' }).click()
    await page.getByText('member-13 was disabled.').waitFor()
    expect(await rig.t.services.profiles.get(ids['member-13']!)).toMatchObject({ disabled: true })

    await page.getByRole('button', { name: 'Edit roles of member-14' }).click()
    await page.getByRole('group', { name: 'Roles of member-14' }).getByLabel('editor').check()
    await page.getByRole('button', { name: 'Save roles' }).click()
    await page.getByText('Roles of member-14 saved.').waitFor()
    expect((await rig.t.services.profiles.get(ids['member-14']!))?.roles.sort()).toEqual([
      'editor',
      'user',
    ])

    await page.getByRole('button', { name: 'Reset two-step of member-15' }).click()
    await page.getByText('Two-step sign-in of member-15 was reset.').waitFor()
  })

  it('audit log: filters by event and user, pages', async () => {
    await page.getByRole('link', { name: 'Audit log' }).click()
    await heading(page, 'Audit log').waitFor()
    const rows = page.locator('table tbody tr')
    await expect.poll(() => rows.count()).toBe(25)
    await page.getByRole('button', { name: 'Next page' }).click()
    await page.getByText('Page 2').waitFor()

    await page.getByLabel('Event').selectOption('user_updated')
    await page.getByRole('button', { name: 'Filter' }).click()
    await page.getByText('Page 1').waitFor()
    await expect.poll(() => rows.count()).toBeGreaterThanOrEqual(3)
    for (const text of await rows.locator('td[data-label=Event]').allTextContents())
      expect(text).toBe('user_updated')
    // The filter is in the address: a reload (or a bookmark) shows the same view, Back the one before.
    expect(new URL(page.url()).searchParams.get('event')).toBe('user_updated')
    await page.reload()
    await heading(page, 'Audit log').waitFor()
    expect(await page.getByLabel('Event').inputValue()).toBe('user_updated')
    await expect.poll(() => rows.count()).toBeGreaterThanOrEqual(3)
    for (const text of await rows.locator('td[data-label=Event]').allTextContents())
      expect(text).toBe('user_updated')
    await page.goBack()
    await expect.poll(() => page.getByLabel('Event').inputValue()).toBe('')
    await expect.poll(() => rows.count()).toBe(25)

    await page.getByLabel('Event').selectOption('')
    await page.getByLabel('User id').fill(ids['member-13']!)
    await page.getByRole('button', { name: 'Filter' }).click()
    await expect.poll(() => rows.count()).toBeGreaterThan(0)
    await expect
      .poll(async () => (await rows.locator('td[data-label=User]').allTextContents()).join('|'))
      .toContain(ids['member-13']!)

    const until = new Date(rig.clock.now().getTime() - 3_600_000)
    const local = new Date(until.getTime() - until.getTimezoneOffset() * 60_000)
      .toISOString()
      .slice(0, 16)
    await page.getByLabel('Until').fill(local)
    await page.getByRole('button', { name: 'Filter' }).click()
    await page.getByText('No events match.').waitFor()
    await page.getByLabel('Until').fill('')
    await page.getByLabel('User id').fill('')
    await page.getByRole('button', { name: 'Filter' }).click()
    await expect.poll(() => rows.count()).toBe(25)
    await checkScreen(page, 'admin-audit')
  })

  it('API keys: created with scopes, shown once, revoked', async () => {
    await page.getByRole('link', { name: 'API keys' }).click()
    await heading(page, 'API keys').waitFor()
    await page.getByLabel('Name', { exact: true }).fill('billing-app')
    await page.getByLabel(/introspect/).check()
    await page.getByRole('button', { name: 'Create key' }).click()
    const shown = page.getByTestId('api-key')
    await shown.waitFor()
    const key = ((await shown.textContent()) ?? '').trim()
    expect(key.length).toBeGreaterThan(30)
    await page.getByRole('cell', { name: 'totp, introspect' }).waitFor()
    await checkScreen(page, 'admin-api-keys')

    const api = client(rig.t.app)
    const use = () =>
      api.call('POST', '/api/totp/register', {
        body: { username: `subject-${Date.now()}` },
        headers: { 'x-api-key': key },
      })
    expect((await use()).status).toBe(201)

    await page.getByRole('button', { name: 'Done' }).click()
    expect(await shown.count()).toBe(0)
    await page.getByRole('button', { name: 'Revoke billing-app' }).click()
    await page.getByText('billing-app was revoked.').waitFor()
    expect((await use()).status).toBe(401)
  })

  it('products: paging, create, edit, delete, with the server naming a bad field', async () => {
    await page.getByRole('link', { name: 'Products' }).click()
    await heading(page, 'Products').waitFor()
    const rows = page.locator('table tbody tr')
    await expect.poll(() => rows.count()).toBe(20)
    await page.getByRole('button', { name: 'Next page' }).click()
    await expect.poll(() => rows.count()).toBe(3)
    await checkScreen(page, 'products')

    await page.getByRole('link', { name: 'New product' }).click()
    await heading(page, 'New product').waitFor()
    await page.getByLabel('Name').fill('Widget')
    await page.getByLabel('Description').fill('A fine widget')
    await page.getByLabel('Price').fill('9.999')
    await page.getByLabel('Quantity').fill('3')
    await page.getByRole('button', { name: 'Save' }).click()
    await expect
      .poll(() => page.locator('.field.invalid label').first().textContent())
      .toBe('Price')
    await checkScreen(page, 'product-form')
    await page.getByLabel('Price').fill('9.99')
    await page.getByRole('button', { name: 'Save' }).click()
    await heading(page, 'Products').waitFor()

    const widget = () => rows.filter({ hasText: 'Widget' })
    await page.getByRole('button', { name: 'Next page' }).click()
    await widget().waitFor()
    await widget().getByRole('link', { name: 'Edit Widget' }).click()
    await heading(page, 'Edit product').waitFor()
    await expect.poll(() => page.getByLabel('Price').inputValue()).toBe('9.99')
    await page.getByLabel('Price').fill('12.50')
    await page.getByRole('button', { name: 'Save' }).click()
    await heading(page, 'Products').waitFor()
    await page.getByRole('button', { name: 'Next page' }).click()
    await expect.poll(() => widget().locator('td[data-label=Price]').textContent()).toBe('12.50')
    await widget().getByRole('button', { name: 'Delete Widget' }).click()
    await page.getByText('Widget was deleted.').waitFor()
    // The notice shows as soon as the delete answers; the page is reloaded after it.
    await expect.poll(() => widget().count()).toBe(0)
  })

  it('products: a reader sees no write controls, and the server still refuses a write', async () => {
    const other = await rig.newContext()
    const p = await other.newPage()
    await signIn(p, 'member-02')
    await p.getByRole('link', { name: 'Products' }).click()
    await heading(p, 'Products').waitFor()
    await expect.poll(() => p.locator('table tbody tr').count()).toBe(20)
    expect(await p.getByRole('link', { name: 'New product' }).count()).toBe(0)
    expect(await p.getByRole('link', { name: /^Edit/ }).count()).toBe(0)
    expect(await p.getByRole('link', { name: 'Users' }).count()).toBe(0)

    await p.goto('/products/new')
    await heading(p, 'New product').waitFor()
    await p.getByLabel('Name').fill('Sneaky')
    await p.getByLabel('Price').fill('1')
    await p.getByLabel('Quantity').fill('1')
    await p.getByRole('button', { name: 'Save' }).click()
    await p.getByText('You do not have permission to do that.').waitFor()

    // An admin-only page is not shown to a non-admin.
    await p.goto('/admin/users')
    await heading(p, 'Your account').waitFor()
    await other.close()
  })

  it('products: an editor (role given in the UI) gets the write controls', async () => {
    const other = await rig.newContext()
    const p = await other.newPage()
    await signIn(p, 'member-14')
    await p.getByRole('link', { name: 'Products' }).click()
    await p.getByRole('link', { name: 'New product' }).waitFor()
    await other.close()
  })

  it('a disabled account is told so at sign-in', async () => {
    const other = await rig.newContext()
    const p = await other.newPage()
    await p.goto('/login')
    await p.getByLabel('Username or email').fill('member-13')
    await p.getByLabel('Password', { exact: true }).fill(STRONG_PASSWORD)
    await p.getByRole('button', { name: 'Sign in', exact: true }).click()
    await p.getByText('This account is disabled. Contact an administrator.').waitFor()
    await other.close()
  })
})
