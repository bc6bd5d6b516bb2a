// The API parity manifest (tests/parity/manifest.json): every name it lists for Node is a method
// of the exported class, so the README's parity table never claims what the binding lacks.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const odradek = require('../index.js')
const here = path.dirname(fileURLToPath(import.meta.url))
const manifest = JSON.parse(fs.readFileSync(path.resolve(here, '../../tests/parity/manifest.json'), 'utf8'))

function method(name) {
  const [cls, member] = name.split('.')
  const Class = odradek[cls]
  return Class && typeof Class.prototype[member] === 'function' ? Class.prototype[member] : undefined
}

test('every name the parity manifest lists for Node exists', () => {
  const missing = []
  for (const c of manifest.capabilities) {
    if (!Array.isArray(c.node)) continue
    for (const name of c.node) if (!method(name)) missing.push(`${c.name}: ${name}`)
  }
  assert.deepEqual(missing, [])
  assert.equal(method('Consumer.teleport'), undefined)
})
