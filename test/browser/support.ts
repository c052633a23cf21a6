import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import jsQRModule from 'jsqr'
import { PNG } from 'pngjs'
import {
  chromium,
  type Browser,
  type BrowserContext,
  type CDPSession,
  type Page,
} from 'playwright-core'
import { expect } from 'vitest'
import { fakeClock, type FakeClock } from '../support/clock.js'
import { startApp, type TestApp } from '../support/harness.js'
import { startMailCapture, type MailCapture } from '../support/mail.js'
import { startSmsCapture } from '../support/sms.js'
import { freePort } from '../support/net.js'

// jsqr is CommonJS whose types describe an ES default export; Node hands us module.exports.
const jsQR = jsQRModule as unknown as (typeof jsQRModule)['default']

const repo = fileURLToPath(new URL('../..', import.meta.url))
const webRoot = join(repo, 'web', 'dist')
const screenshots = join(repo, 'test-results', 'screens')
const axeSource = readFileSync(join(repo, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8')

export interface BrowserRig {
  t: TestApp
  mail: MailCapture
  sms: Awaited<ReturnType<typeof startSmsCapture>>
  clock: FakeClock
  browser: Browser
  baseUrl: string
  /** Where Node reaches the app: the real port on 127.0.0.1, whatever the browser uses. */
  origin: string
  /**
   * fetch for Node-side clients (openid-client) that sends requests for `baseUrl` to `origin`,
   * so an issuer of http://localhost works outside Chromium's host resolver too.
   */
  fetch: typeof fetch
  /** A new browser context (its own cookies), as a second person or device. */
  newContext(): Promise<BrowserContext>
  close(): Promise<void>
}

export interface RigOptions {
  /**
   * The browser reaches the app as http://localhost, with WEBAUTHN_RP_ID=localhost and that
   * origin: browsers allow passkeys only in a secure context, and plain http counts as one on
   * localhost alone. Chromium's host resolver sends localhost to the real port, so the origin
   * is known before the port is and the app's configuration need not wait for `listen`.
   */
  localhost?: boolean
  /** PUBLIC_URL is the address Chromium uses, as the OpenID provider's issuer must be. */
  publicUrlIsBaseUrl?: boolean
}

/**
 * A real Gatehouse on a real port (SQLite, mail and SMS to capture servers, a fake clock that starts at
 * the real time so TOTP steps move only when a test says so) and one Chromium for the file.
 */
export async function startRig(
  env: Record<string, string> = {},
  opts: RigOptions = {},
): Promise<BrowserRig> {
  if (!existsSync(join(webRoot, 'index.html')))
    throw new Error('web/dist is not built: run `npm run build` first')
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-browser-'))
  const mail = await startMailCapture()
  const sms = await startSmsCapture('webhook')
  const clock = fakeClock(new Date())
  const chosenPort = opts.publicUrlIsBaseUrl ? await freePort() : 0
  const t = await startApp(`sqlite:${join(dir, 'browser.db')}`, {
    clock,
    webRoot,
    env: {
      SMTP_URL: mail.url,
      EMAIL_FROM: 'gatehouse@example.test',
      LOGIN_MAX_FAILURES: '1000',
      LOCKOUT_THRESHOLD: '1000',
      ...sms.env,
      ...(opts.publicUrlIsBaseUrl ? { PUBLIC_URL: `http://127.0.0.1:${chosenPort}` } : {}),
      ...(opts.localhost
        ? {
            PUBLIC_URL: 'http://localhost',
            WEBAUTHN_RP_ID: 'localhost',
            WEBAUTHN_ORIGINS: 'http://localhost',
          }
        : {}),
      ...env,
    },
  })
  await t.app.listen({ port: chosenPort, host: '127.0.0.1' })
  const { port } = t.app.server.address() as AddressInfo
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--headless',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      ...(opts.localhost ? [`--host-resolver-rules=MAP localhost 127.0.0.1:${port}`] : []),
    ],
  })
  mkdirSync(screenshots, { recursive: true })
  const baseUrl = opts.localhost ? 'http://localhost' : `http://127.0.0.1:${port}`
  const origin = `http://127.0.0.1:${port}`
  const routed: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : input.toString())
    if (url.origin !== baseUrl) return fetch(input, init)
    const target = origin + url.pathname + url.search
    return input instanceof Request ? fetch(new Request(target, input), init) : fetch(target, init)
  }
  return {
    t,
    mail,
    sms,
    clock,
    browser,
    baseUrl,
    origin,
    fetch: routed,
    async newContext() {
      const context = await browser.newContext({
        baseURL: baseUrl,
        viewport: { width: 1280, height: 800 },
      })
      // Generous: these wait on conditions, and the CI machine is a loaded 2-core box.
      context.setDefaultTimeout(60_000)
      return context
    },
    async close() {
      await browser.close()
      await t.close()
      await mail.close()
      await sms.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/**
 * axe-core on the page as it is now: no serious or critical violation. The script is evaluated
 * through DevTools rather than added as a <script>, which the app's strict CSP would refuse.
 */
export async function expectAccessible(page: Page, screen: string): Promise<void> {
  await page.evaluate(axeSource)
  // A string, because the test code is compiled without the DOM library.
  const violations = await page.evaluate<string[]>(`
    axe.run(document, { resultTypes: ['violations'] }).then((result) =>
      result.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => v.id + ' (' + v.impact + '): ' + v.help + ' at ' +
          v.nodes.map((n) => n.target.join(' ')).join(', ')))
  `)
  expect(violations, `axe on ${screen}`).toEqual([])
}

/**
 * Screenshots at 1280 and 375 px under test-results/screens/, the axe scan, and the check that
 * nothing runs off a phone screen sideways.
 */
export async function checkScreen(page: Page, screen: string): Promise<void> {
  await expectAccessible(page, screen)
  await page.screenshot({ path: join(screenshots, `${screen}-1280.png`), fullPage: true })
  await page.setViewportSize({ width: 375, height: 740 })
  try {
    const overflow = await page.evaluate<number>(
      'document.documentElement.scrollWidth - document.documentElement.clientWidth',
    )
    expect(overflow, `${screen} fits 375 px`).toBeLessThanOrEqual(0)
    await page.screenshot({ path: join(screenshots, `${screen}-375.png`), fullPage: true })
  } finally {
    await page.setViewportSize({ width: 1280, height: 800 })
  }
}

/** The otpauth URL inside a QR code image given as a data: URL. */
export function decodeQr(dataUrl: string): string {
  const png = PNG.sync.read(Buffer.from(dataUrl.replace(/^data:image\/png;base64,/, ''), 'base64'))
  const result = jsQR(new Uint8ClampedArray(png.data), png.width, png.height)
  if (!result) throw new Error('no QR code found in the image')
  return result.data
}

export interface PasskeyDevice {
  context: BrowserContext
  page: Page
  cdp: CDPSession
  authenticatorId: string
}

/**
 * A browser with Chromium's virtual platform authenticator (resident keys, user
 * verification, answering without a prompt), for a rig started with `localhost`. It would
 * answer the login page's autofill request (conditional mediation) the moment the page opens,
 * before a test could use the password or the button; `autofill: false` makes it a browser
 * without passkey autofill.
 */
export async function newPasskeyDevice(
  rig: BrowserRig,
  opts: { autofill: boolean },
): Promise<PasskeyDevice> {
  const context = await rig.newContext()
  if (!opts.autofill) {
    await context.addInitScript({
      content: 'PublicKeyCredential.isConditionalMediationAvailable = async () => false',
    })
  }
  const page = await context.newPage()
  const cdp = await context.newCDPSession(page)
  await cdp.send('WebAuthn.enable')
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  })
  return { context, page, cdp, authenticatorId }
}

/** The refresh cookie the browser holds for this server, if any. */
export async function refreshCookie(context: BrowserContext) {
  return (await context.cookies()).find((c) => c.name === 'gatehouse_refresh')
}
