import { rawLoad } from './_raw.js'
process.on('message', async (job) => { const c0 = process.cpuUsage(); const r = await rawLoad(job); const c = process.cpuUsage(c0); process.send({ ...r, cpu: (c.user + c.system) / 1000 }) })
