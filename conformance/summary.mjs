#!/usr/bin/env node
// Counts cache-tests results the way cache-tests.fyi shows them, and prints
// one markdown table row per result file.
//
//   node conformance/summary.mjs --suite DIR [--published] [--fails] [NAME=]FILE.json ...
//
// --suite DIR   a checkout of github.com/http-tests/cache-tests (default:
//               $CACHE_TESTS_DIR). Its tests/index.mjs (the test definitions)
//               and test-engine/lib/results.mjs (determineTestResult, the
//               function the site uses to turn a raw result into a symbol,
//               dependencies honoured) are imported from there, not copied.
// --published   also count the suite's own results/*.json for the reverse
//               proxies and CDNs listed in its results/index.mjs.
// --fails       after the table, list the required tests that each of the
//               FILE.json results does not pass (id, result, name, reason).
//
// What is counted: the tests the command-line client runs against a reverse
// proxy or CDN, i.e. every test except those marked browser_only (the
// cdn_only tests are run on reverse proxies too, see
// test-engine/client/runner.mjs; browser_skip tests are skipped only for
// browsers). They are grouped by `kind` (missing kind = required). A test
// counts as passed when determineTestResult gives "pass" (required, optimal)
// or "yes" (check); a test whose dependency did not pass is "dependency
// failed", never passed, exactly as the site shows it.

import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

function usage (msg) {
  if (msg) console.error(`summary.mjs: ${msg}`)
  console.error('usage: node conformance/summary.mjs --suite DIR [--published] [--fails] [NAME=]FILE.json ...')
  process.exit(2)
}

const args = process.argv.slice(2)
let suite = process.env.CACHE_TESTS_DIR || ''
let published = false
let fails = false
const files = []
for (let i = 0; i < args.length; i++) {
  const a = args[i]
  if (a === '--suite') {
    if (i + 1 >= args.length) usage('--suite needs a directory')
    suite = args[++i]
  } else if (a.startsWith('--suite=')) {
    suite = a.slice('--suite='.length)
  } else if (a === '--published') {
    published = true
  } else if (a === '--fails') {
    fails = true
  } else if (a === '-h' || a === '--help') {
    usage()
  } else if (a.startsWith('-')) {
    usage(`unknown option ${a}`)
  } else {
    const eq = a.indexOf('=')
    // NAME=FILE, unless the '=' is part of a path that exists as given
    if (eq > 0 && !fs.existsSync(a)) {
      files.push({ name: a.slice(0, eq), file: a.slice(eq + 1) })
    } else {
      files.push({ name: path.basename(a, '.json'), file: a })
    }
  }
}
if (!suite) usage('no suite directory: pass --suite DIR or set CACHE_TESTS_DIR')
suite = path.resolve(suite)
for (const f of ['tests/index.mjs', 'test-engine/lib/results.mjs']) {
  if (!fs.existsSync(path.join(suite, f))) usage(`${suite} has no ${f}: not a cache-tests checkout`)
}
if (!files.length && !published) usage('nothing to count: give result files and/or --published')

const testSuites = (await import(pathToFileURL(path.join(suite, 'tests/index.mjs')).href)).default
const { determineTestResult, resultTypes } = await import(pathToFileURL(path.join(suite, 'test-engine/lib/results.mjs')).href)

const KINDS = ['required', 'optimal', 'check']
const applicable = []
for (const s of testSuites) {
  for (const t of s.tests) {
    if (t.browser_only === true) continue
    applicable.push(t)
  }
}
const totals = Object.fromEntries(KINDS.map(k => [k, applicable.filter(t => (t.kind || 'required') === k).length]))
const passTypes = [resultTypes.pass, resultTypes.yes]
const typeName = new Map(Object.entries(resultTypes).map(([k, v]) => [v, k]))

function count (results) {
  const passed = Object.fromEntries(KINDS.map(k => [k, 0]))
  const failed = []
  for (const t of applicable) {
    const kind = t.kind || 'required'
    const r = determineTestResult(testSuites, t.id, results)
    if (passTypes.includes(r)) {
      passed[kind]++
    } else if (kind === 'required') {
      const raw = results[t.id]
      let why = Array.isArray(raw) ? raw.slice(0, 2).join(': ') : (raw === undefined ? 'not run' : String(raw))
      if (r === resultTypes.dependency_fail) {
        const deps = (t.depends_on || []).filter(d => !passTypes.includes(determineTestResult(testSuites, d, results)))
        why = `depends on ${deps.map(d => `\`${d}\` (${typeName.get(determineTestResult(testSuites, d, results))})`).join(', ')}`
      }
      failed.push({ id: t.id, name: t.name, type: typeName.get(r) || '?', why })
    }
  }
  return { passed, failed }
}

const rows = []
for (const f of files) {
  let results
  try {
    results = JSON.parse(fs.readFileSync(f.file, 'utf8'))
  } catch (err) {
    console.error(`summary.mjs: cannot read ${f.file}: ${err.message}`)
    process.exit(1)
  }
  rows.push({ name: f.name, results, ours: true })
}
if (published) {
  const index = (await import(pathToFileURL(path.join(suite, 'results/index.mjs')).href)).default
  for (const item of index) {
    if (item.type !== 'rev-proxy' && item.type !== 'cdn') continue
    const file = path.join(suite, 'results', item.file)
    if (!fs.existsSync(file)) continue
    rows.push({ name: `${item.name} ${item.version}`, results: JSON.parse(fs.readFileSync(file, 'utf8')), ours: false })
  }
}

const commitFile = path.join(suite, 'COMMIT')
const commit = fs.existsSync(commitFile) ? fs.readFileSync(commitFile, 'utf8').trim() : ''
console.log(`cache-tests${commit ? ' ' + commit : ''}: ${applicable.length} tests apply to a reverse proxy ` +
  `(${totals.required} required, ${totals.optimal} optimal, ${totals.check} check; browser_only tests left out)`)
console.log('')
console.log('| cache | required passed/total | optimal passed/total | check passed/total |')
console.log('| --- | --- | --- | --- |')
const counted = rows.map(r => ({ ...r, ...count(r.results) }))
for (const r of counted) {
  const cells = KINDS.map(k => `${r.passed[k]}/${totals[k]}`)
  console.log(`| ${r.name} | ${cells.join(' | ')} |`)
}

if (fails) {
  for (const r of counted.filter(r => r.ours)) {
    const byType = {}
    for (const f of r.failed) byType[f.type] = (byType[f.type] || 0) + 1
    console.log('')
    console.log(`Required tests ${r.name} does not pass: ${r.failed.length} (` +
      Object.entries(byType).map(([k, v]) => `${v} ${k}`).join(', ') + ')')
    // Own failures first, then those whose dependency did not pass.
    const order = f => f.type === 'dependency_fail' ? 1 : 0
    const list = [...r.failed].sort((a, b) => order(a) - order(b))
    console.log('')
    for (const f of list) {
      console.log(`- \`${f.id}\` [${f.type}] ${f.name} — ${f.why.replace(/\s+/g, ' ').slice(0, 200)}`)
    }
  }
}
