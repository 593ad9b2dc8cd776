// Preloaded into the cache-tests origin server (node --import) by run.sh:
// the server calls listen(port), which binds every interface; this makes a
// bare port (or port string) bind 127.0.0.1 only. Nothing else changes.
import net from 'node:net'

const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  const port = args[0]
  const isPort = typeof port === 'number' || (typeof port === 'string' && /^\d+$/.test(port))
  if (isPort && (args.length === 1 || typeof args[1] === 'function')) {
    args.splice(0, 1, Number(port), '127.0.0.1')
  }
  return listen.apply(this, args)
}
