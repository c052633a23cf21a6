import openapiTS, { astToString } from 'openapi-typescript'
import { describe, expect, it } from 'vitest'
import { testDatabases } from '../support/databases.js'
import { useTestApp } from '../support/harness.js'

const [sqlite] = await testDatabases()

const BANNER = `/**
 * Generated from the server's OpenAPI document by test/integration/web-api-types.test.ts;
 * do not edit. After changing a route's schema, run
 * \`npx vitest run test/integration/web-api-types.test.ts --update\` and commit the result.
 */

`

/**
 * The web app knows the API only through this file (STYLE §11): a route whose answer changes
 * shape changes these types, and vue-tsc then names every screen that read the old shape.
 * Without the -u flag this fails when the committed file no longer matches the server.
 */
describe('the web app’s API types', () => {
  const { t } = useTestApp(sqlite!)

  it('are the ones generated from the OpenAPI document the server serves', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<object>()
    const source = BANNER + astToString(await openapiTS(doc as Parameters<typeof openapiTS>[0]))
    await expect(source).toMatchFileSnapshot('../../web/src/api/openapi.ts')
  })
})
