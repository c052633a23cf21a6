import net from 'node:net'
export async function rawLoad({ url, method, headers = {}, body, connections, durationSec }) {
  const u = new URL(url)
  const head = [`${method} ${u.pathname} HTTP/1.1`, `host: ${u.host}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)]
  if (body !== undefined) head.push(`content-length: ${Buffer.byteLength(body)}`)
  const request = Buffer.from(head.join('\r\n') + '\r\n\r\n' + (body ?? ''))
  let ok = 0, failed = 0
  const end = performance.now() + durationSec * 1000
  const start = performance.now()
  const lane = () => new Promise((resolve, reject) => {
    const sock = net.connect(Number(u.port), u.hostname)
    sock.setNoDelay(true)
    let buf = Buffer.alloc(0)
    const send = () => { if (performance.now() >= end) { sock.destroy(); resolve() } else sock.write(request) }
    sock.on('connect', send)
    sock.on('error', reject)
    sock.on('data', (chunk) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk
      for (;;) {
        const i = buf.indexOf('\r\n\r\n')
        if (i < 0) return
        const headText = buf.subarray(0, i).toString('latin1')
        const m = /content-length:\s*(\d+)/i.exec(headText)
        const len = m ? Number(m[1]) : 0
        if (buf.length < i + 4 + len) return
        const status = Number(headText.slice(9, 12))
        if (status >= 200 && status < 300) ok++; else failed++
        buf = buf.subarray(i + 4 + len)
        send()
      }
    })
  })
  await Promise.all(Array.from({ length: connections }, lane))
  return { ok, failed, seconds: (performance.now() - start) / 1000 }
}
