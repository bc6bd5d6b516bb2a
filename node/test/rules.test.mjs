// The small rules (special offsets, error classes, local error codes) are the core's: index.js
// exports them from the native addon, and this fails when they drift from the C ABI header that
// publishes the same numbers to the C-family bindings, or when index.js retypes one.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const odradek = require('../index.js')

const header = readFileSync(new URL('../../bindings/c/include/odradek.h', import.meta.url), 'utf8')
const defines = Object.fromEntries([...header.matchAll(/^#define (ODRADEK_\w+) (-?\d+)$/gm)].map((m) => [m[1], Number(m[2])]))

test('special offsets are the core ones', () => {
  assert.deepEqual(Object.keys(odradek.OFFSET).sort(), ['BEGINNING', 'END', 'INVALID', 'STORED'])
  for (const [name, value] of Object.entries(odradek.OFFSET)) assert.equal(value, defines[`ODRADEK_OFFSET_${name}`], name)
})

test('local error codes and class names are the core ones', () => {
  assert.equal(odradek.LOCAL_ERRORS._TIMED_OUT, -185)
  for (const [name, code] of Object.entries(odradek.LOCAL_ERRORS)) assert.equal(code, defines[`ODRADEK_ERR${name}`], name)
  odradek.ERROR_CLASSES.forEach((c, i) => assert.equal(defines[`ODRADEK_CLASS_${c.toUpperCase()}`], i, c))
  // No copy of a special offset or local code in the JavaScript layer.
  const source = readFileSync(new URL('../index.js', import.meta.url), 'utf8')
  for (const n of [-1000, -1001, -185, -197]) assert.ok(!source.includes(String(n)), `index.js retypes ${n}`)
})
