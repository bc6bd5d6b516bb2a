// The process exits by itself once every client is closed: a child node process uses a
// broker, producer, consumers (plain and group) and admin, closes them and must end on its own.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))

test('a child process exits on its own once its clients are closed', { timeout: 90_000 }, async () => {
  const child = spawn(process.execPath, [path.join(here, 'fixtures', 'exits-by-itself.js')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (out += d))
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const [code, signal] = await new Promise((resolve) => child.on('exit', (c, s) => resolve([c, s])))
  clearTimeout(killer)
  assert.equal(signal, null, `the child did not exit by itself within 60 s (killed); output:\n${out}`)
  assert.equal(code, 0, `child failed:\n${out}`)
  assert.match(out, /consumed 10 \+ 10; all closed/)
})
