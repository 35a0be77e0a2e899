// neon_ws_test.mjs: Dormouse's PostgreSQL over WebSockets (a WebSocket
// upgrade on sql_http_listen, path /v2) driven by the unmodified npm
// package @neondatabase/serverless: Pool and Client with neonConfig.wsProxy.
//
//     node neon_ws_test.mjs sqlite|postgres
//
// Environment (tests/e2e/test_neon_ws.sh sets it):
//   NEON_WS        127.0.0.1:PORT/v2 (what wsProxy returns)
//   NEON_URL       postgresql://USER:PASSWORD@localhost/DB
//   NEON_BAD_URL   the same user with a wrong password (28P01 expected)
//
// Prints "PASS: ENGINE: CHECK" / "FAIL: ENGINE: CHECK (detail)" lines, then
// DONE; exits 1 if a check failed.
import { isDeepStrictEqual, inspect } from 'node:util'
import { Pool, Client, neonConfig } from '@neondatabase/serverless'
import ws from 'ws'

const ENGINE = process.argv[2]
if (ENGINE !== 'sqlite' && ENGINE !== 'postgres') {
  console.error('usage: node neon_ws_test.mjs sqlite|postgres')
  process.exit(2)
}
const { NEON_WS, NEON_URL, NEON_BAD_URL } = process.env
if (!NEON_WS || !NEON_URL || !NEON_BAD_URL) {
  console.error('NEON_WS, NEON_URL and NEON_BAD_URL must be set')
  process.exit(2)
}

neonConfig.webSocketConstructor = ws
neonConfig.wsProxy = () => NEON_WS
neonConfig.useSecureWebSocket = false
neonConfig.pipelineConnect = false

let failed = 0
const check = (name, ok, detail) => {
  if (ok) console.log(`PASS: ${ENGINE}: ${name}`)
  else {
    failed++
    console.log(`FAIL: ${ENGINE}: ${name} (${detail === undefined ? '' : inspect(detail, { depth: 4 })})`)
  }
}
const eq = (name, want, got) => check(name, isDeepStrictEqual(want, got), { want, got })
const errorOf = async (p) => {
  try {
    await p
    return null
  } catch (e) {
    return e
  }
}
// A bound on every step: a server that never answers fails the check instead of hanging.
const within = (ms, p, what) =>
  Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(`${what}: no answer in ${ms} ms`)), ms))])

try {
  // a Client: connect, the extended protocol with parameters, the simple protocol
  const client = new Client({ connectionString: NEON_URL })
  await within(10000, client.connect(), 'connect')
  eq('Client: a parameterised query', [{ n: 42 }],
    (await client.query('select $1::int + 1 as n', [41])).rows)
  await client.query('drop table if exists wsitems')
  await client.query('create table wsitems (id int primary key, name text)')
  eq('Client: a simple query (no parameters) answers its rows', [{ one: 1 }],
    (await client.query('select 1 as one')).rows)

  // a transaction that commits, one that rolls back
  await client.query('begin')
  await client.query('insert into wsitems values ($1, $2)', [1, 'kept'])
  await client.query('commit')
  await client.query('begin')
  await client.query('insert into wsitems values ($1, $2)', [2, 'rolled back'])
  await client.query('rollback')
  eq('a committed row stays, a rolled-back one does not', [{ id: 1, name: 'kept' }],
    (await client.query('select id, name from wsitems order by id')).rows)

  // an error keeps the session usable; in a transaction it fails the block
  const e1 = await errorOf(client.query('select * from no_such_table'))
  eq('an unknown table: error 42P01', '42P01', e1 && e1.code)
  await client.query('begin')
  await client.query('insert into wsitems values (3, $1)', ['in a failed block'])
  const e2 = await errorOf(client.query('insert into wsitems values (1, $1)', ['duplicate']))
  eq('a duplicate key: error 23505', '23505', e2 && e2.code)
  const e3 = await errorOf(client.query('select 1'))
  eq('then the block is aborted: 25P02', '25P02', e3 && e3.code)
  await client.query('rollback')
  eq('after the rollback the session works and the block left nothing', [{ n: 1 }],
    (await client.query('select count(*)::int as n from wsitems')).rows)

  // a result larger than a WebSocket frame and the bridge's buffers (about 2 MB)
  const big = (await client.query('select x, $1::text as pad from generate_series(1, 2000) as g(x)',
    ['y'.repeat(1000)])).rows
  check('a 2 MB result arrives whole (2000 rows of 1000 characters)',
    big.length === 2000 && big[1999].x === 2000 && big.every((r) => r.pad.length === 1000),
    { rows: big.length })
  // a large query text (one WebSocket message of 300 KB)
  const longText = 'z'.repeat(300000)
  eq('a 300 KB parameter goes through and comes back', 300000,
    (await client.query('select length($1::text) as n', [longText])).rows[0].n)
  await within(10000, client.end(), 'Client end()')
  check('Client end() resolves (the server closes the WebSocket)', true)

  // a Pool: queries in parallel on several connections
  const pool = new Pool({ connectionString: NEON_URL, max: 5 })
  const rows = await within(20000, Promise.all(Array.from({ length: 20 }, (_, i) =>
    pool.query('select $1::int * 2 as n', [i]))), 'pool queries')
  eq('Pool: 20 queries on 5 connections', Array.from({ length: 20 }, (_, i) => i * 2),
    rows.map((r) => r.rows[0].n))
  const c = await pool.connect()
  await c.query('begin')
  await c.query('insert into wsitems values (10, $1)', ['from the pool'])
  await c.query('commit')
  c.release()
  eq('Pool: a transaction on a checked-out client', [{ name: 'from the pool' }],
    (await pool.query('select name from wsitems where id = 10')).rows)
  await within(10000, pool.end(), 'pool end()')
  check('Pool end() resolves', true)

  // a wrong password
  const bad = new Client({ connectionString: NEON_BAD_URL })
  const e4 = await within(10000, errorOf(bad.connect()), 'a bad login')
  eq('a wrong password: error 28P01', '28P01', e4 && e4.code)
} catch (e) {
  check('the checks ran without an unexpected error', false, e && (e.stack || e))
}
console.log('DONE')
process.exit(failed ? 1 : 0)
