// prepared_stress.mjs: many node-postgres or postgres.js clients, the same
// prepared-statement names.
//
//     node prepared_stress.mjs pg|postgres.js HOST PORT DBNAME USER [CLIENTS [ROUNDS]]
//
// CLIENTS connections (default 8) of one database, all open at once, each
// executing the statements of tests/drivers/python/stress_common.py for ROUNDS
// rounds (default 15) in autocommit, inside transactions and around an error,
// after two SETs (application_name, work_mem) that every round reads back.
// pg: named statements (query({ name })) that every client names alike:
// dm_shared, dm_mine (another text in each client), dm_div, dm_extra_J, and
// dm_only_K; node-postgres parses a name once per connection and only binds
// it afterwards.  postgres.js: its own statement names (prepare: true),
// distinct per connection, one connection per client (max: 1).  Meant for a
// transaction pooler with a pool far smaller than CLIENTS; against
// PostgreSQL itself every check passes.  Prints one "PASS: DRIVER-stress:
// CHECK" / "FAIL: ..." line per check over all clients (up to five distinct
// failures on "    | " lines) and exits 1 if any check failed.

import { readFileSync } from 'node:fs'
import pg from 'pg'
import postgres from 'postgres'

const [driverArg, host, port, database, user, clientsArg, roundsArg] = process.argv.slice(2)
if (!['pg', 'postgres.js'].includes(driverArg) || !user) {
  console.error('usage: node prepared_stress.mjs pg|postgres.js HOST PORT DBNAME USER [CLIENTS [ROUNDS]]')
  process.exit(2)
}
const DRIVER = `${driverArg}-stress`
const CLIENTS = Number(clientsArg || 8)
const ROUNDS = Number(roundsArg || 15)
const TIMEOUT_MS = 20000
const pkg = driverArg === 'pg' ? 'pg' : 'postgres'
const VERSION = JSON.parse(readFileSync(new URL(`node_modules/${pkg}/package.json`, import.meta.url))).version

const HOW = driverArg === 'pg'
  ? 'named dm_extra_J, never closed'
  : 'names chosen by postgres.js, never closed'
const CHECKS = [
  ['connect', `${CLIENTS} clients connected at once`],
  ['shared', 'same statement name and text in every client, autocommit executions'],
  ['mine', 'same statement name, another text and other types in each client, autocommit'],
  ['only', 'a statement name of its own per client (two parameters), autocommit'],
  ['tx', 'statements prepared earlier, executed inside explicit transactions'],
  ['error', 'error in a transaction (22012), rollback, then the statements still work'],
  ['session', 'SET application_name and work_mem at connect, seen in every round (a statement named alike everywhere)'],
  ['evict', `six more statements per round through the driver's statement cache (${HOW})`],
  ['names', 'no 26000 (prepared statement does not exist) or 42P05 (already exists) error'],
  ['close', 'disconnect']
]

// The statements of stress_common.py; pg and postgres.js return int8 as a string.
const SHARED = 'select $1::int4 * 2 as v'
const DIV = 'select 100 / $1::int4 as q'
// After the client's SET application_name = 'dm-stress-K' and SET work_mem = '(64+K)MB'.
const APPNAME = "select current_setting('application_name') || ' ' || current_setting('work_mem') as a"
const sessionSets = k => [`set application_name = 'dm-stress-${k}'`, `set work_mem = '${64 + k}MB'`]
const sessionValue = k => `dm-stress-${k} ${64 + k}MB`
function mine (k) {
  if (k % 2 === 0) {
    return [`select $1::int4 + ${k * 1000} as v, 'client ${k}' as who`, x => x, x => [x + k * 1000, `client ${k}`]]
  }
  return [`select 'client ${k}: ' || $1::text as who, ${k}::int8 as k`, x => String(x), x => [`client ${k}: ${x}`, String(k)]]
}
const only = k => `select $1::int8 + $2::int8 as s, ${k} as k`
const extra = j => `select $1::int4 + ${j} as v, 'extra' as e`
const EXTRAS = 6

const ok = {}
const bad = {}
const nbad = {}
for (const [c] of CHECKS) { ok[c] = 0; bad[c] = []; nbad[c] = 0 }

function fail (check, k, detail, code) {
  detail = `client ${k}: ${detail}`.replace(/\n/g, ' ')
  if (code) detail += ` [SQLSTATE ${code}]`
  if (detail.length > 300) detail = detail.slice(0, 297) + '...'
  nbad[check]++
  if (bad[check].length < 5 && !bad[check].includes(detail)) bad[check].push(detail)
  if (code === '26000' || code === '42P05') {
    nbad.names++
    if (bad.names.length < 5) bad.names.push(`${detail} (in: ${check})`)
  }
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b)

// A client: exec(name, text, values) -> the first row as an array; tx(fn) runs
// fn(exec) in a transaction (rolled back if fn throws); end().
async function openPg (k) {
  const client = new pg.Client({ host, port: Number(port), database, user, connectionTimeoutMillis: TIMEOUT_MS, query_timeout: TIMEOUT_MS })
  client.on('error', () => {})
  await client.connect()
  for (const s of sessionSets(k)) await client.query(s)
  const exec = async (name, text, values) => (await client.query({ name, text, values, rowMode: 'array' })).rows[0]
  return {
    exec,
    async tx (fn) {
      await client.query('begin')
      try {
        await fn(exec)
      } catch (e) {
        await client.query('rollback')
        throw e
      }
      await client.query('commit')
    },
    end: () => client.end()
  }
}

async function openPostgresJs (k) {
  const sql = postgres({ host, port: Number(port), database, user, max: 1, connect_timeout: 20, idle_timeout: 0, onnotice: () => {} })
  for (const s of sessionSets(k)) await sql.unsafe(s)
  const execOn = s => async (name, text, values) => (await s.unsafe(text, values, { prepare: true }).values())[0]
  return {
    exec: execOn(sql),
    tx: fn => sql.begin(s => fn(execOn(s))),
    end: () => sql.end({ timeout: 5 })
  }
}

async function op (check, k, exec, name, text, values, want) {
  let got
  try {
    got = await exec(name, text, values)
  } catch (e) {
    fail(check, k, `${e.constructor.name}: ${e.message}`, e.code)
    return false
  }
  if (!same(got, want)) {
    fail(check, k, `expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`)
    return false
  }
  ok[check]++
  return true
}

async function runClient (k, c) {
  const [msql, marg, mexp] = mine(k)
  const osql = only(k)
  for (let i = 0; i < ROUNDS; i++) {
    const x = k * 100 + i
    const e = c.exec
    await op('shared', k, e, 'dm_shared', SHARED, [x], [2 * x])
    await op('mine', k, e, 'dm_mine', msql, [marg(x)], mexp(x))
    await op('only', k, e, `dm_only_${k}`, osql, [x, k], [String(x + k), k])

    try {
      await c.tx(async e => {
        let good = await op('tx', k, e, 'dm_shared', SHARED, [x + 1], [2 * (x + 1)])
        good = good && await op('tx', k, e, 'dm_mine', msql, [marg(x + 1)], mexp(x + 1))
        good = good && await op('tx', k, e, `dm_only_${k}`, osql, [x, 1], [String(x + 1), k])
        good = good && await op('tx', k, e, 'dm_mine', msql, [marg(x + 2)], mexp(x + 2))
      })
    } catch (err) {
      fail('tx', k, `transaction: ${err.constructor.name}: ${err.message}`, err.code)
    }

    const undo = new Error('no error from 100 / 0')
    try {
      await c.tx(async e => {
        await op('error', k, e, 'dm_shared', SHARED, [x], [2 * x])
        await e('dm_div', DIV, [0])
        throw undo
      })
    } catch (err) {
      if (err.code === '22012') ok.error++
      else fail('error', k, `${err.constructor.name}: ${err.message}`, err.code)
    }
    await op('error', k, e, 'dm_div', DIV, [4], [25])
    await op('error', k, e, 'dm_mine', msql, [marg(x)], mexp(x))

    await op('session', k, e, 'dm_appname', APPNAME, [], [sessionValue(k)])

    for (let j = 0; j < EXTRAS; j++) {
      await op('evict', k, e, `dm_extra_${j}`, extra(j), [x], [x + j, 'extra'])
    }
  }
}

// A hung pooler must not outlive the test's own time limit: report what we have.
const DEADLINE_S = Number(process.env.DM_STRESS_DEADLINE || 60)
const timer = setTimeout(() => {
  fail('close', '*', `the program did not finish within ${DEADLINE_S} s`)
  report()
}, DEADLINE_S * 1000)

const open = driverArg === 'pg' ? openPg : openPostgresJs
const opened = await Promise.allSettled(Array.from({ length: CLIENTS }, (_, k) => open(k)))
const clients = []
opened.forEach((r, k) => {
  if (r.status === 'fulfilled') {
    ok.connect++
    clients.push([k, r.value])
  } else {
    fail('connect', k, `${r.reason.constructor.name}: ${r.reason.message}`, r.reason.code)
  }
})
await Promise.all(clients.map(([k, c]) => runClient(k, c).catch(e => fail('close', k, `${e.constructor.name}: ${e.message}`, e.code))))
for (const [k, c] of clients) {
  try {
    await c.end()
    ok.close++
  } catch (e) {
    fail('close', k, `${e.constructor.name}: ${e.message}`, e.code)
  }
}
clearTimeout(timer)

report()

function report () {
  let checks = 0
  let failures = 0
  ok.names = ['shared', 'mine', 'only', 'tx', 'error', 'session', 'evict'].reduce((s, c) => s + ok[c], 0)
  for (const [c, name] of CHECKS) {
    checks++
    if (nbad[c] === 0 && ok[c] > 0) {
      console.log(`PASS: ${DRIVER}: ${name}`)
      continue
    }
    failures++
    console.log(`FAIL: ${DRIVER}: ${name}`)
    for (const d of bad[c]) console.log(`    | ${d}`)
    console.log(`    | ${ok[c]} executions correct, ${nbad[c]} wrong or failed`)
  }
  console.log(`${DRIVER} (${pkg} ${VERSION}, node ${process.version}, ${CLIENTS} clients x ${ROUNDS} rounds): ${checks - failures} of ${checks} checks passed`)
  process.exit(failures ? 1 : 0)
}
