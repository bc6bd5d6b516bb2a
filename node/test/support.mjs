// Helpers shared by the Node tests.
import net from 'node:net'

/** `127.0.0.1:PORT` of a port that was free a moment ago: connecting to it is refused. */
export async function closedAddress () {
  const server = net.createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  await new Promise((resolve) => server.close(resolve))
  return `127.0.0.1:${port}`
}
