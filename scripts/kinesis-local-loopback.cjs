/**
 * Preloaded into kinesis-local (`node -r scripts/kinesis-local-loopback.cjs …/main.js`).
 *
 * kinesis-local always listens on every interface (0.0.0.0 / ::) and has no setting for that; our
 * servers bind to the loopback interface only, so this rewrites its `listen(port, …)` calls to
 * `listen(port, '127.0.0.1', …)`. With PGTB_EXIT_WITH_STDIN=1 it also exits when its standard
 * input closes, so a server started by a test process ends with that process, even after SIGKILL.
 */
'use strict'
const net = require('node:net')

const LOOPBACK = '127.0.0.1'
const listen = net.Server.prototype.listen

net.Server.prototype.listen = function (...args) {
  const [first] = args
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    const rest = args.slice(1)
    if (typeof rest[0] === 'string') rest.shift() // a host given by the caller: replaced
    return listen.call(this, Number(first), LOOPBACK, ...rest)
  }
  if (first !== null && typeof first === 'object' && 'port' in first) {
    return listen.call(this, { ...first, host: LOOPBACK }, ...args.slice(1))
  }
  return listen.apply(this, args)
}

if (process.env.PGTB_EXIT_WITH_STDIN === '1') {
  process.stdin.on('end', () => process.exit(0))
  process.stdin.on('error', () => process.exit(0))
  process.stdin.resume()
}
