import { defineCommand } from '../args.js'

export const keysRotate = defineCommand({
  name: 'keys rotate',
  usage:
    'keys rotate                  add a new signing key (old keys stay published until their tokens expire)',
  async run(ctx) {
    const services = await ctx.services()
    const kid = await services.keyRing.rotate()
    ctx.out(`new signing key ${kid}; running instances sign with it within 5 seconds`)
  },
})

export const secretsRotate = defineCommand({
  name: 'secrets rotate',
  usage: 'secrets rotate               re-encrypt every secret under GATEHOUSE_SECRET_KEY',
  async run(ctx) {
    const services = await ctx.services()
    let total = 0
    for (const resealer of services.resealers) total += await resealer.reseal()
    ctx.out(`re-encrypted ${total} secret${total === 1 ? '' : 's'} under the current key`)
  },
})
