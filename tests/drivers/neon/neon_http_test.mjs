// neon_http_test.mjs: Dormouse's Neon-compatible "SQL over HTTP" (POST /sql)
// driven by the unmodified npm package @neondatabase/serverless (neon()),
// and by raw fetch() requests shaped as Neon's proxy accepts them.
//
//     node neon_http_test.mjs sqlite|postgres
//
// Everything else comes from the environment (tests/e2e/test_neon_http.sh
// sets it):
//   NEON_ENDPOINT      http://127.0.0.1:PORT/sql (neonConfig.fetchEndpoint)
//   NEON_URL           postgresql://USER:PASSWORD@localhost/DB, the main database
//   NEON_OK_URLS       optional JSON {"label": url}: other logins that must work
//                      (md5 and SCRAM entries, a percent-encoded password...)
//   NEON_NODB_URL      optional: a database no rule serves (3D000 expected)
//   NEON_SLEEPY_URL    optional: a database with idle_timeout = 1 (the pause check)
//   DM_CONSOLE         optional: libpq conninfo of the admin console, with
//   DM_CONSOLE_PASSWORD  its password and PSQL (the psql binary): SHOW DATABASES,
//                      SHOW USAGE (without it the pause and metering checks are skipped)
//   DM_HTTP            optional: http://127.0.0.1:PORT of http_listen (/v1/usage)
//   NEON_MAX_REQUEST, NEON_MAX_RESPONSE
//                      optional: sql_http_max_request / sql_http_max_response
//                      in bytes (the 413 and 507 checks)
//
// The engine decides what is expected where the engines differ, and only
// where README promises it: arrays are PostgreSQL types upstream, but on
// SQLite only arrays in expressions are promised (ANY, subscripts, unnest);
// a READ ONLY transaction refuses writes upstream (25006), on SQLite the
// outcome is reported, not asserted; error positions are checked wherever
// PostgreSQL gives one, except 42P01 on SQLite (reported).
//
// Prints one "PASS: ENGINE: CHECK" or "FAIL: ENGINE: CHECK (detail)" line per
// check, "INFO: ..." lines, "SKIP: ..." lines, then DONE; exits 1 if any
// check failed.  Needs Node 19 or later (the package's engines).

import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { isDeepStrictEqual, inspect } from 'node:util'
import { neon, neonConfig, NeonDbError } from '@neondatabase/serverless'

process.env.TZ = 'UTC' // date and timestamp parsers use local time

const ENGINE = process.argv[2] || process.env.NEON_ENGINE || ''
if (ENGINE !== 'sqlite' && ENGINE !== 'postgres') {
  console.error('usage: node neon_http_test.mjs sqlite|postgres (see the comment at the top)')
  process.exit(2)
}
const PG = ENGINE === 'postgres'
const VERSION = JSON.parse(readFileSync(new URL('node_modules/@neondatabase/serverless/package.json',
  import.meta.url))).version

const env = (k, required = false) => {
  const v = process.env[k]
  if (required && !v) {
    console.error(`${k} is not set`)
    process.exit(2)
  }
  return v || ''
}
const ENDPOINT = env('NEON_ENDPOINT', true)
const URL_MAIN = env('NEON_URL', true)
const OK_URLS = JSON.parse(env('NEON_OK_URLS') || '{}')
const NODB_URL = env('NEON_NODB_URL')
const SLEEPY_URL = env('NEON_SLEEPY_URL')
const CONSOLE = env('DM_CONSOLE')
const HTTP_API = env('DM_HTTP')
const MAX_REQUEST = +env('NEON_MAX_REQUEST') || 0
const MAX_RESPONSE = +env('NEON_MAX_RESPONSE') || 0
const dbOf = (u) => decodeURIComponent(new URL(u).pathname.slice(1))
const DB = dbOf(URL_MAIN)

neonConfig.fetchEndpoint = ENDPOINT
// The driver sets no timeout: bound every request, so that a request the
// server never answers fails its check instead of hanging the run.
const REQUEST_TIMEOUT_MS = 10000
const timedFetch = (url, init = {}) => fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
neonConfig.fetchFunction = timedFetch

let passed = 0
let failed = 0

// ---- reporting ----

const show = (v) => {
  const s = inspect(v, { depth: 6, breakLength: Infinity, maxStringLength: 300, maxArrayLength: 20 })
  return s.length > 900 ? s.slice(0, 900) + '...' : s
}

function report (ok, name, detail) {
  if (ok) {
    passed++
    console.log(`PASS: ${ENGINE}: ${name}`)
  } else {
    failed++
    console.log(`FAIL: ${ENGINE}: ${name}${detail !== undefined ? ` (${String(detail).replace(/\n/g, ' ')})` : ''}`)
  }
  return ok
}

function eq (name, actual, expected) {
  return report(isDeepStrictEqual(actual, expected), name, `expected ${show(expected)}, got ${show(actual)}`)
}

const info = (s) => console.log(`INFO: ${ENGINE}: ${s}`)
const skip = (s) => console.log(`SKIP: ${ENGINE}: ${s}`)

const errText = (e) => e === null ? 'no error' : e instanceof Error
  ? `${e.name}${e.code !== undefined ? ` code=${e.code}` : ''}${e.position !== undefined ? ` position=${e.position}` : ''}: ${e.message}`
  : show(e)

// group NAME FN: runs FN; an exception it did not expect fails the group.
async function group (name, fn) {
  try {
    await fn()
  } catch (e) {
    report(false, `${name}: ran without an unexpected exception`, `${errText(e)}${e && e.stack ? ' ' + e.stack.split('\n').slice(1, 3).join(' ') : ''}`)
  }
}

// failure PROMISE: the error it rejects with, or null if it resolved.
async function failure (p) {
  try {
    await p
    return null
  } catch (e) {
    return e
  }
}

// A NeonDbError from an HTTP 400 answer (the driver turns any other status
// into "Server error (HTTP status N): ..." without a code, and a failed
// fetch into "Error connecting to database: ..." with a sourceError).
const is400 = (e) => e instanceof NeonDbError && e.sourceError === undefined &&
  !/^(Server error \(HTTP status|Error connecting to database)/.test(e.message)
const isStatus = (e, n) => e instanceof NeonDbError && e.message.startsWith(`Server error (HTTP status ${n})`)

function expectSqlError (name, e, code, extra = {}) {
  const want = { name: 'NeonDbError', http400: true, code, ...extra }
  const got = { name: e && e.name, http400: is400(e), code: e && e.code }
  for (const k of Object.keys(extra)) got[k] = e && e[k]
  return report(isDeepStrictEqual(got, want), name, `expected ${show(want)}, got ${show(got)} (${errText(e)})`)
}

const sql = neon(URL_MAIN)
const sqlFull = neon(URL_MAIN, { fullResults: true })
const sqlArr = neon(URL_MAIN, { arrayMode: true })

// raw REQUEST: fetch() without the driver.  Returns {status, type, body, json}.
async function raw (body, headers = {}, { method = 'POST', url = ENDPOINT, conn = URL_MAIN } = {}) {
  const h = { ...headers }
  if (conn !== null) h['Neon-Connection-String'] = conn
  const r = await timedFetch(url, { method, headers: h, body: method === 'GET' ? undefined : body })
  const text = await r.text()
  let json
  try { json = JSON.parse(text) } catch { json = undefined }
  return { status: r.status, type: r.headers.get('content-type') || '', text, json }
}

// ---- the admin console and /v1/usage ----

function consoleRows (command) {
  const out = execFileSync(env('PSQL') || 'psql', ['-X', '-w', '-A', '-F', '\t', '-P', 'footer=off', '-c', command, CONSOLE],
    { env: { ...process.env, PGPASSWORD: env('DM_CONSOLE_PASSWORD') }, encoding: 'utf8', timeout: 20000 })
  const lines = out.split('\n').filter(l => l !== '')
  const cols = lines[0].split('\t')
  return lines.slice(1).map(l => Object.fromEntries(l.split('\t').map((v, i) => [cols[i], v])))
}
const dbRow = (name) => consoleRows('SHOW DATABASES').find(r => r.name === name)
function usageRow (name) {
  const r = consoleRows(`SHOW USAGE ${name}`).find(x => x.database === name)
  return { queries: +(r?.queries ?? 0), errors: +(r?.errors ?? 0), rows_returned: +(r?.rows_returned ?? 0) }
}
async function apiUsage (name) {
  const r = await timedFetch(`${HTTP_API}/v1/usage?database=${encodeURIComponent(name)}&granularity=day`)
  const j = await r.json()
  return { queries: j.usage.reduce((s, u) => s + u.queries, 0), errors: j.usage.reduce((s, u) => s + u.errors, 0) }
}
const sleep = (ms) => new Promise(resolve => setTimeout(resolve, ms))
async function waitFor (pred, ms) {
  const end = Date.now() + ms
  for (;;) {
    const v = await pred()
    if (v || Date.now() > end) return v
    await sleep(100)
  }
}

// ---- the values every engine round-trips ----

const BUF = Buffer.from([0xde, 0xad, 0x00, 0xff, 0x0a, 0x22, 0x5c])
const TEXT = 'héllo wörld ☃ 日本語 🐭 "quoted" back\\slash tab\t nl\n cr\r ctl\u0001\u001f end'
const JSONV = { a: [1, 2, { b: null }], s: '☃ "q"', n: 1.5, t: true }
const JSONBV = { z: 1, a: 'x', n: [true, false, null] }
const TS = new Date('2024-02-29T13:45:30.123Z')
const DATE = new Date(2024, 1, 29) // the driver parses a date as local midnight
const UUID = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'

// [column, expected JS value, type OID]
const TYPES = [
  ['i2', 32767, 21], ['i4', -2147483648, 23], ['i8', '9223372036854775807', 20],
  ['f8', 3.141592653589793, 701], ['nu', '-12345678901234567890.123456789', 1700], ['t', TEXT, 25],
  ['bt', true, 16], ['bf', false, 16], ['by', BUF, 17], ['j', JSONV, 114], ['jb', JSONBV, 3802],
  ['d', DATE, 1082], ['tz', TS, 1184], ['u', UUID, 2950], ['nul', null, 25], ['nuli', null, 23]
]

async function types () {
  await group('tagged template of every type', async () => {
    const r = await sqlFull`select ${32767}::int2 as i2, ${-2147483648}::int4 as i4,
      ${'9223372036854775807'}::int8 as i8, ${3.141592653589793}::float8 as f8,
      ${'-12345678901234567890.123456789'}::numeric as nu, ${TEXT}::text as t, ${true}::bool as bt,
      ${false}::bool as bf, ${BUF} as by, ${JSONV}::json as j, ${JSONBV}::jsonb as jb,
      ${'2024-02-29'}::date as d, ${TS}::timestamptz as tz, ${UUID.toUpperCase()}::uuid as u,
      ${null}::text as nul, ${null}::int4 as nuli`
    eq('tagged template: one row, command SELECT, rowCount 1', [r.rows.length, r.command, r.rowCount], [1, 'SELECT', 1])
    const row = r.rows[0] || {}
    for (const [col, want, oid] of TYPES) {
      const what = want === null ? 'NULL' : Buffer.isBuffer(want) ? 'Buffer' : want instanceof Date ? 'Date' : typeof want
      const shown = show(want)
      eq(`tagged template: ${col} (OID ${oid}) comes back as ${what} ${shown.length > 60 ? shown.slice(0, 57) + '...' : shown}`, row[col], want)
    }
    eq('tagged template: the dataTypeID of every column',
      r.fields.map(f => [f.name, f.dataTypeID]), TYPES.map(([c, , oid]) => [c, oid]))
  })

  await group('sql.query with parameters', async () => {
    const rows = await sql.query('select $1::int + 1 as n, $2::text as s, $3::int8 as big, $4::bool as b, $5::float8 as f',
      [41, 'x', 1234567890123456789n, false, -0.5])
    eq('sql.query(text, params): numbers, strings, bigint, bool', rows, [{ n: 42, s: 'x', big: '1234567890123456789', b: false, f: -0.5 }])
    const rows2 = await sql.query('select $1::text as a, $2::text as b', ['', null])
    eq('sql.query: an empty string and a NULL parameter', rows2, [{ a: '', b: null }])
    const none = await sql.query('select 1 as x where false')
    eq('sql.query: zero rows is an empty array', none, [])
    const noParams = await sql`select ${'it\'s'} || ' ok' as s`
    eq('tagged template: a quote in a parameter is data, not SQL', noParams, [{ s: 'it\'s ok' }])
  })

  await group('a table of every type', async () => {
    const ddl = await sqlFull`create table neon_types (id int primary key, i2 int2, i4 int4, i8 int8, f8 float8,
      nu numeric, t text, vc varchar(20), b bool, by bytea, j json, jb jsonb, d date, tz timestamptz, u uuid)`
    eq('CREATE TABLE: command CREATE, rowCount null, no rows', [ddl.command, ddl.rowCount, ddl.rows], ['CREATE', null, []])
    const ins = 'insert into neon_types values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)'
    const r1 = await sql.query(ins, [1, -32768, 2147483647, '-9223372036854775808', -1e300, '0.000001', TEXT, 'varchar ✓',
      true, BUF, JSON.stringify(JSONV), JSONBV, '1999-12-31', TS, UUID], { fullResults: true })
    eq('INSERT with 15 parameters: command INSERT, rowCount 1', [r1.command, r1.rowCount, r1.rows], ['INSERT', 1, []])
    await sql.query(ins, [2, ...Array(14).fill(null)])
    const r = await sql.query('select * from neon_types order by id', [], { fullResults: true })
    eq('SELECT * of the table: row 1 as inserted', r.rows[0], {
      id: 1, i2: -32768, i4: 2147483647, i8: '-9223372036854775808', f8: -1e300, nu: '0.000001', t: TEXT,
      vc: 'varchar ✓', b: true, by: BUF, j: JSONV, jb: JSONBV, d: new Date(1999, 11, 31), tz: TS, u: UUID
    })
    eq('SELECT * of the table: row 2, every column NULL', r.rows[1],
      Object.fromEntries(['id', 'i2', 'i4', 'i8', 'f8', 'nu', 't', 'vc', 'b', 'by', 'j', 'jb', 'd', 'tz', 'u']
        .map(c => [c, c === 'id' ? 2 : null])))
    eq('SELECT * of the table: column names and type OIDs', r.fields.map(f => [f.name, f.dataTypeID]),
      [['id', 23], ['i2', 21], ['i4', 23], ['i8', 20], ['f8', 701], ['nu', 1700], ['t', 25], ['vc', 1043], ['b', 16],
        ['by', 17], ['j', 114], ['jb', 3802], ['d', 1082], ['tz', 1184], ['u', 2950]])
    const vc = r.fields.find(f => f.name === 'vc')
    eq('fields: varchar(20) has dataTypeSize -1 and dataTypeModifier 24, format text',
      [vc?.dataTypeSize, vc?.dataTypeModifier, vc?.format], [-1, 24, 'text'])
    if (PG) {
      const [{ oid }] = await sql`select 'neon_types'::regclass::oid::int8 as oid`
      eq('fields: tableID is the table\'s OID and columnID its attnum (PQftable, PQftablecol)',
        r.fields.map(f => [f.tableID, f.columnID]), r.fields.map((f, i) => [Number(oid), i + 1]))
    }
    const up = await sql.query('update neon_types set t = $1 where id >= $2', ['updated', 1], { fullResults: true })
    eq('UPDATE of 2 rows: command UPDATE, rowCount 2', [up.command, up.rowCount], ['UPDATE', 2])
    const del = await sql.query('delete from neon_types where id = $1', [2], { fullResults: true })
    eq('DELETE of 1 row: command DELETE, rowCount 1', [del.command, del.rowCount], ['DELETE', 1])
  })

  await group('arrays', async () => {
    if (PG) {
      const r = await sqlFull`select ${[1, 2, 3]}::int[] as a, ${['a', 'b"c', null, '']}::text[] as t,
        array[1.5, -2.5]::float8[] as f, ${['9007199254740993']}::int8[] as i8, '{}'::int[] as e`
      eq('arrays: int[], text[] (quotes, NULL, empty), float8[], int8[], empty', r.rows[0],
        { a: [1, 2, 3], t: ['a', 'b"c', null, ''], f: [1.5, -2.5], i8: ['9007199254740993'], e: [] })
      eq('arrays: type OIDs 1007, 1009, 1022, 1016, 1007', r.fields.map(f => f.dataTypeID), [1007, 1009, 1022, 1016, 1007])
      const nan = await sql`select 'NaN'::float8 as n, 'Infinity'::float8 as i, '-Infinity'::float8 as m`
      eq('float8 NaN, Infinity, -Infinity', nan, [{ n: NaN, i: Infinity, m: -Infinity }])
    } else {
      // README (SQLite engine): arrays in expressions: ARRAY[...], = ANY(...), subscripts, unnest in FROM
      // (README does not say which type an element of an array has on SQLite:
      // today subscripts and unnest give text, so values are compared as text.)
      const r = await sqlFull`select 2 = any(${[1, 2, 3]}::int[]) as hit, 5 = any(${[1, 2, 3]}::int[]) as miss,
        (array[10, 20, 30])[2] as sub`
      eq('arrays in expressions: = ANY($1::int[]) with a JS array parameter, and a subscript',
        r.rows.map(x => ({ ...x, sub: String(x.sub) })), [{ hit: true, miss: false, sub: '20' }])
      const u = await sqlFull`select x from unnest(${[3, 1, 2]}::int[]) as u(x) order by x`
      eq('unnest($1::int[]) in FROM with a JS array parameter', u.rows.map(x => String(x.x)), ['1', '2', '3'])
      info(`SQLite: an int[] subscript has type OID ${r.fields[2]?.dataTypeID}, unnest(int[]) gives OID ${u.fields[0]?.dataTypeID}`)
    }
  })
}

async function modes () {
  await group('arrayMode and fullResults', async () => {
    eq('neon(url, {arrayMode: true}): rows are arrays in column order',
      await sqlArr`select ${1}::int as a, ${'x'}::text as b, null::text as c`, [[1, 'x', null]])
    eq('sql.query(..., {arrayMode: true}): two columns of the same name are both kept',
      await sql.query('select 1 as a, 2 as a', [], { arrayMode: true }), [[1, 2]])
    const full = await sql.query('select $1::int + 1 as n', [41], { fullResults: true })
    eq('fullResults: command, rowCount, rows, rowAsArray', [full.command, full.rowCount, full.rows, full.rowAsArray],
      ['SELECT', 1, [{ n: 42 }], false])
    eq('fullResults: the field of an expression (name, dataTypeID, tableID, columnID, dataTypeSize, dataTypeModifier, format)',
      full.fields.map(f => ({ ...f })), [{ name: 'n', dataTypeID: 23, tableID: 0, columnID: 0, dataTypeSize: 4, dataTypeModifier: -1, format: 'text' }])
    const both = await sql.query('select 7::int2 as a, \'t\'::text as b', [], { fullResults: true, arrayMode: true })
    eq('fullResults + arrayMode: rows [[7, "t"]], rowAsArray true', [both.rows, both.rowAsArray, both.fields.map(f => f.name)],
      [[[7, 't']], true, ['a', 'b']])
    const many = await sql`with recursive g(i) as (select 1 union all select i + 1 from g where i < 1000) select i, 'row ' || i as s from g`
    eq('1000 rows, every one right', [many.length, many.every((r, k) => r.i === k + 1 && r.s === `row ${k + 1}`)], [1000, true])
  })

  await group('parallel requests', async () => {
    const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => sql`select ${i}::int as i, ${'p' + i}::text as s`))
    eq('20 requests at once each get their own answer', rs, Array.from({ length: 20 }, (_, i) => [{ i, s: 'p' + i }]))
  })

  await group('connection string variants', async () => {
    eq('?sslmode=require in the connection string is harmless',
      await neon(URL_MAIN + '?sslmode=require')`select 1 as one`, [{ one: 1 }])
    const pgurl = URL_MAIN.replace(/^postgresql:/, 'postgres:')
    eq('postgres:// scheme', await neon(pgurl)`select 2 as two`, [{ two: 2 }])
  })
}

async function transactions () {
  await group('transactions', async () => {
    await sql`create table neon_tx (id int primary key, v text not null)`
    const [ins, cnt] = await sql.transaction([
      sql`insert into neon_tx values (${1}, ${'one'}) returning id, v`,
      sql`select count(*)::int as c from neon_tx`
    ])
    eq('transaction([...]): each query\'s rows, the second sees the first', [ins, cnt], [[{ id: 1, v: 'one' }], [{ c: 1 }]])
    eq('transaction: committed (seen by the next request)', await sql`select v from neon_tx where id = 1`, [{ v: 'one' }])
    const fr = await sql.transaction(tx => [
      tx`insert into neon_tx values (${2}, ${'two'})`,
      tx`update neon_tx set v = ${'TWO'} where id = ${2}`,
      tx`delete from neon_tx where id = ${999}`,
      tx`select v from neon_tx where id = ${2}`
    ], { fullResults: true })
    eq('transaction(fn, {fullResults}): INSERT 1, UPDATE 1, DELETE 0, SELECT 1',
      fr.map(r => [r.command, r.rowCount]), [['INSERT', 1], ['UPDATE', 1], ['DELETE', 0], ['SELECT', 1]])
    eq('transaction with arrayMode', await sql.transaction([sql`select 1 as a, 2 as b`], { arrayMode: true }), [[[1, 2]]])

    let e = await failure(sql.transaction([
      sql`insert into neon_tx values (${100}, ${'undone'})`,
      sql`select * from no_such_table`
    ]))
    expectSqlError('transaction whose second query fails: NeonDbError 42P01', e, '42P01')
    eq('... and its first insert was rolled back (42P01)', await sql`select count(*)::int as c from neon_tx where id = ${100}`, [{ c: 0 }])
    e = await failure(sql.transaction([
      sql`insert into neon_tx values (${101}, ${'undone'})`,
      sql`insert into neon_tx values (${1}, ${'duplicate'})`
    ]))
    expectSqlError('transaction with a unique violation: NeonDbError 23505', e, '23505')
    eq('... and its first insert was rolled back (23505)', await sql`select count(*)::int as c from neon_tx where id = ${101}`, [{ c: 0 }])
    e = await failure(sql.transaction([sql`select 1/${0}::int as x`, sql`select 1 as never`]))
    expectSqlError('transaction whose first query fails (22012)', e, '22012')
    await sql`insert into neon_tx values (${102}, ${'after'})`
    eq('after failed transactions the next single query commits on its own',
      await sql`select v from neon_tx where id = ${102}`, [{ v: 'after' }])
  })

  await group('transaction options', async () => {
    const LEVELS = [['Serializable', 'serializable'], ['RepeatableRead', 'repeatable read'],
      ['ReadCommitted', 'read committed'], ['ReadUncommitted', 'read uncommitted']]
    for (const [level, shown] of LEVELS) {
      if (PG) {
        eq(`isolationLevel ${level}: the transaction runs at ${shown}`,
          await sql.transaction([sql`show transaction_isolation`, sql`select 1 as one`], { isolationLevel: level }),
          [[{ transaction_isolation: shown }], [{ one: 1 }]])
      } else {
        const e = await failure(sql.transaction([sql`select 1 as one`], { isolationLevel: level }))
        report(e === null || (is400(e) && /^[0-9A-Z]{5}$/.test(e.code || '')),
          `isolationLevel ${level}: succeeds or fails cleanly (400 with a SQLSTATE)`, errText(e))
        info(`isolationLevel ${level}: ${e === null ? 'accepted' : 'refused: ' + errText(e)}`)
      }
    }
    const bogus = await failure(sql.transaction([sql`select 1`], { isolationLevel: 'Bogus' }))
    report(is400(bogus) && /isolation level/i.test(bogus.message),
      'an unknown isolationLevel is refused with 400 and a message naming the isolation level (Neon: "invalid isolation level")', errText(bogus))

    if (PG) {
      eq('readOnly: true: transaction_read_only is on',
        await sql.transaction([sql`show transaction_read_only`], { readOnly: true }), [[{ transaction_read_only: 'on' }]])
      eq('isolationLevel Serializable + readOnly + deferrable: transaction_deferrable is on',
        await sql.transaction([sql`show transaction_deferrable`, sql`show transaction_read_only`],
          { isolationLevel: 'Serializable', readOnly: true, deferrable: true }),
        [[{ transaction_deferrable: 'on' }], [{ transaction_read_only: 'on' }]])
      const e = await failure(sql.transaction([sql`insert into neon_tx values (${200}, ${'ro'})`], { readOnly: true }))
      expectSqlError('readOnly: true: a write fails with 25006', e, '25006')
      eq('... and nothing was written', await sql`select count(*)::int as c from neon_tx where id = ${200}`, [{ c: 0 }])
    } else {
      const e = await failure(sql.transaction([sql`insert into neon_tx values (${200}, ${'ro'})`], { readOnly: true }))
      const [{ c }] = await sql`select count(*)::int as c from neon_tx where id = ${200}`
      report((e === null && c === 1) || (is400(e) && /^[0-9A-Z]{5}$/.test(e.code || '') && c === 0),
        'readOnly: true and a write: either it commits, or it fails cleanly (400 with a SQLSTATE) and writes nothing',
        `${errText(e)}; rows with id 200: ${c}`)
      info(`readOnly transaction with a write on SQLite: ${e === null ? 'the write committed (READ ONLY not enforced)' : 'refused: ' + errText(e)}`)
    }
    await sql.transaction([sql`insert into neon_tx values (${201}, ${'rw'})`], { readOnly: false, deferrable: false })
    eq('readOnly: false, deferrable: false (headers "false"): the write commits',
      await sql`select v from neon_tx where id = ${201}`, [{ v: 'rw' }])
  })
}

async function errors () {
  await group('SQL errors', async () => {
    let e = await failure(sql`SELEC 1`)
    expectSqlError('syntax error: NeonDbError 42601, severity ERROR, position "1", PostgreSQL\'s message', e, '42601',
      { severity: 'ERROR', position: '1', message: 'syntax error at or near "SELEC"' })
    report(e instanceof NeonDbError, 'the error is an instance of the package\'s NeonDbError', errText(e))
    e = await failure(sql.query('select 1 frm x'))
    expectSqlError('syntax error further in: position "14"', e, '42601', { position: '14' })
    e = await failure(sql`select * from no_such_table`)
    if (PG) {
      expectSqlError('unknown table: NeonDbError 42P01, position "15"', e, '42P01',
        { position: '15', message: 'relation "no_such_table" does not exist' })
    } else {
      expectSqlError('unknown table: NeonDbError 42P01, PostgreSQL\'s message', e, '42P01',
        { message: 'relation "no_such_table" does not exist' })
      info(`unknown table on SQLite: position ${show(e && e.position)} (PostgreSQL gives "15")`)
    }
    e = await failure(sql`select 1/${0}::int as x`)
    expectSqlError('division by zero: 22012', e, '22012')
    e = await failure(sql`insert into neon_tx values (${1}, ${'dup'})`)
    expectSqlError('unique violation: 23505', e, '23505')
    if (PG) eq('unique violation: detail and constraint come through', [e?.detail, e?.constraint],
      ['Key (id)=(1) already exists.', 'neon_tx_pkey'])
    e = await failure(sql`select ${'abc'}::int as x`)
    expectSqlError('invalid input syntax for integer: 22P02', e, '22P02')
    e = await failure(sql.query('select $1::int as a, $2::int as b', [1]))
    report(is400(e) && e.code === '08P01', 'fewer parameters than placeholders: 400 with 08P01 (PostgreSQL: bind message supplies 1 parameters...)', errText(e))
    eq('after errors, the next request works', await sql`select 1 as ok`, [{ ok: 1 }])
  })

  await group('authentication', async () => {
    const u = new URL(URL_MAIN)
    const wrong = new URL(URL_MAIN)
    wrong.password = 'wrong-password'
    let e = await failure(neon(wrong.href)`select 1`)
    expectSqlError('wrong password: NeonDbError 28P01', e, '28P01',
      { message: `password authentication failed for user "${decodeURIComponent(u.username)}"` })
    const nouser = new URL(URL_MAIN)
    nouser.username = 'nosuchuser'
    e = await failure(neon(nouser.href)`select 1`)
    expectSqlError('unknown user: NeonDbError 28P01 (as a wrong password)', e, '28P01')
    const nopw = new URL(URL_MAIN)
    nopw.password = ''
    e = await failure(neon(nopw.href)`select 1`)
    report(is400(e), 'no password in the connection string: refused with 400', errText(e))
    info(`no password: ${errText(e)}`)
    for (const [label, url] of Object.entries(OK_URLS)) {
      eq(`${label}: logs in and queries`, await neon(url)`select current_database() as db`, [{ db: dbOf(url) }])
    }
    if (NODB_URL) {
      e = await failure(neon(NODB_URL)`select 1`)
      expectSqlError('a database no rule serves: NeonDbError 3D000', e, '3D000')
    }
  })
}

// Neon's proxy (proxy/src/serverless/sql_over_http.rs, json.rs): without
// "Neon-Raw-Text-Output: true" values are converted to JSON: bool -> true/
// false, int2/int4 -> numbers, float4/float8 -> numbers (NaN, Infinity as
// strings), json/jsonb -> embedded JSON, arrays -> JSON arrays of converted
// elements, everything else (int8, numeric, text, date...) -> the text as a
// string; NULL -> null.  Without "Neon-Array-Mode: true" (or a per-query
// "arrayMode" member of the body) each row is an object keyed by column name.
// rowAsArray says which.  Params may be JSON numbers, booleans, objects
// (their JSON text) and arrays (a PostgreSQL array literal) as well as strings.
async function rawProtocol () {
  await group('raw requests', async () => {
    const TYPED = 'select 7::int2 as i2, 42::int4 as i4, 9007199254740993::int8 as i8, 1.5::float8 as f8, ' +
      '5::int8 as i8s, 1.25::numeric as nu, true as b, \'{"a": [1, 2]}\'::json as j, \'{"b": 2, "a": 1}\'::jsonb as jb, ' +
      '\'x\'::text as t, \'2024-02-29\'::date as d, \'2024-02-29 13:45:30.123+00\'::timestamptz as tz, ' +
      'null::text as z'
    const typedRow = { i2: 7, i4: 42, i8: '9007199254740993', f8: 1.5, i8s: '5', nu: '1.25', b: true, j: { a: [1, 2] }, jb: { a: 1, b: 2 },
      t: 'x', d: '2024-02-29', tz: '2024-02-29 13:45:30.123+00', z: null }
    const textRow = { i2: '7', i4: '42', i8: '9007199254740993', f8: '1.5', i8s: '5', nu: '1.25', b: 't', j: '{"a": [1, 2]}', jb: '{"a": 1, "b": 2}',
      t: 'x', d: '2024-02-29', tz: '2024-02-29 13:45:30.123+00', z: null }
    const body = JSON.stringify({ query: TYPED, params: [] })

    let r = await raw(body)
    eq('no Neon-Array-Mode, no Neon-Raw-Text-Output: 200, application/json, rows are objects of JSON-typed values (int2/int4/float8 numbers, bool, json; int8 and numeric strings, even small ones)',
      [r.status, r.type.split(';')[0], r.json?.rows, r.json?.rowAsArray, r.json?.command, r.json?.rowCount],
      [200, 'application/json', [typedRow], false, 'SELECT', 1])
    eq('... fields carry every member', r.json?.fields?.[0],
      { name: 'i2', dataTypeID: 21, tableID: 0, columnID: 0, dataTypeSize: 2, dataTypeModifier: -1, format: 'text' })
    r = await raw(body, { 'Neon-Array-Mode': 'true' })
    eq('Neon-Array-Mode: true alone: rows are arrays of JSON-typed values, rowAsArray true',
      [r.status, r.json?.rows, r.json?.rowAsArray], [200, [Object.values(typedRow)], true])
    r = await raw(body, { 'Neon-Raw-Text-Output': 'true' })
    eq('Neon-Raw-Text-Output: true alone: rows are objects of PostgreSQL text',
      [r.status, r.json?.rows, r.json?.rowAsArray], [200, [textRow], false])
    r = await raw(body, { 'Neon-Raw-Text-Output': 'true', 'Neon-Array-Mode': 'true' })
    eq('both headers (what the driver sends): rows are arrays of text', [r.status, r.json?.rows, r.json?.rowAsArray],
      [200, [Object.values(textRow)], true])
    r = await raw(body, { 'Neon-Raw-Text-Output': 'TRUE', 'Neon-Array-Mode': '1' })
    eq('header values other than the literal "true" count as false', [r.status, r.json?.rows, r.json?.rowAsArray],
      [200, [typedRow], false])
    r = await raw(JSON.stringify({ query: 'select 1 as a, 2 as b', params: [], arrayMode: true }))
    eq('a per-query "arrayMode": true in the body wins over the missing header', [r.status, r.json?.rows, r.json?.rowAsArray],
      [200, [[1, 2]], true])
    r = await raw(JSON.stringify({ query: 'select 3 as c' }))
    eq('"params" may be missing', [r.status, r.json?.rows], [200, [{ c: 3 }]])
    r = await raw(JSON.stringify({ query: 'select $1::int + 1 as n, $2::bool as b, $3::jsonb as j, $4::text as s, $5::text as z',
      params: [41, true, { k: [1, 'x'] }, 'str', null] }))
    eq('JSON params of every kind (number, boolean, object, string, null) as Neon converts them',
      [r.status, r.json?.rows], [200, [{ n: 42, b: true, j: { k: [1, 'x'] }, s: 'str', z: null }]])
    if (PG) {
      r = await raw(JSON.stringify({ query: 'select $1::int[] as a, $2::text[] as t, array[1,2]::int8[] as i8, \'{"x",NULL}\'::text[] as n, \'NaN\'::float8 as nan',
        params: [[1, 2, 3], ['a', 'b"c']] }))
      eq('arrays: JSON array params become PostgreSQL arrays; array results are JSON arrays of converted elements; NaN a string',
        [r.status, r.json?.rows], [200, [{ a: [1, 2, 3], t: ['a', 'b"c'], i8: ['1', '2'], n: ['x', null], nan: 'NaN' }]])
      r = await raw(JSON.stringify({ query: 'select 7::oid as o, 2::int8 as i', params: [] }))
      eq('oid and int8 values stay strings without Neon-Raw-Text-Output (Neon: only int2 and int4 become numbers)',
        [r.status, r.json?.rows], [200, [{ o: '7', i: '2' }]])
    } else {
      r = await raw(JSON.stringify({ query: 'select 2 = any($1::int[]) as hit', params: [[1, 2, 3]] }))
      eq('a JSON array param becomes a PostgreSQL array literal', [r.status, r.json?.rows], [200, [{ hit: true }]])
    }
    r = await raw(JSON.stringify({ queries: [{ query: 'select $1::int as a', params: ['5'] },
      { query: 'select $1::text as b', params: ['x'], arrayMode: true }] }), { 'Neon-Raw-Text-Output': 'true' })
    eq('a batch: {"results": [...]} with one result per query, each with its own arrayMode',
      [r.status, r.json?.results?.map(x => [x.command, x.rowCount, x.rows, x.rowAsArray])],
      [200, [['SELECT', 1, [{ a: '5' }], false], ['SELECT', 1, [['x']], true]]])
    r = await raw(JSON.stringify({ queries: [{ query: 'select 1' }] }), { 'Neon-Batch-Isolation-Level': 'Serializable', 'Neon-Batch-Read-Only': 'true' })
    eq('a batch with batch headers: 200 (Neon echoes Neon-Batch-Read-Only and -Isolation-Level)', r.status, 200)
    r = await raw(JSON.stringify({ query: 'select * from no_such_table', params: [] }))
    eq('a SQL error: 400 with a JSON body: message, code, severity',
      [r.status, r.json?.message, r.json?.code, r.json?.severity],
      [400, 'relation "no_such_table" does not exist', '42P01', 'ERROR'])
    const KEYS = ['message', 'code', 'detail', 'hint', 'position', 'internalPosition', 'internalQuery', 'severity', 'where',
      'table', 'column', 'schema', 'dataType', 'constraint', 'file', 'line', 'routine']
    eq('... carrying every member Neon sends (null when PostgreSQL gave none)', KEYS.filter(k => !(r.json && k in r.json)), [])
    r = await raw(JSON.stringify({ query: 'select 1' }), {}, { conn: null })
    report(r.status === 400 && typeof r.json?.message === 'string' && r.json.message.length > 0,
      'no Neon-Connection-String: 400 with a JSON message', `${r.status} ${r.text.slice(0, 200)}`)
    r = await raw(JSON.stringify({ query: 'select 1' }), {}, { conn: 'not a url' })
    report(r.status === 400 && typeof r.json?.message === 'string', 'a malformed connection string: 400 with a JSON message',
      `${r.status} ${r.text.slice(0, 200)}`)
    r = await raw('{"query": "select 1",')
    report(r.status === 400 && typeof r.json?.message === 'string', 'invalid JSON: 400 with a JSON message', `${r.status} ${r.text.slice(0, 200)}`)
    r = await raw(JSON.stringify({ nothing: 1 }))
    report(r.status === 400 && typeof r.json?.message === 'string', 'JSON that is neither {query} nor {queries}: 400 with a JSON message',
      `${r.status} ${r.text.slice(0, 200)}`)
    r = await raw(JSON.stringify({ query: 'select 1', params: 'nope' }))
    report(r.status === 400 && typeof r.json?.message === 'string', '"params" not an array: 400 with a JSON message',
      `${r.status} ${r.text.slice(0, 200)}`)
    r = await raw(undefined, {}, { method: 'GET' })
    eq('GET /sql (fetch): 405', r.status, 405)
  })
}

async function limits () {
  if (!MAX_REQUEST || !MAX_RESPONSE) {
    skip('request and response size limits (NEON_MAX_REQUEST / NEON_MAX_RESPONSE not set)')
    return
  }
  await group('size limits', async () => {
    const under = 'x'.repeat(Math.floor(MAX_REQUEST / 2))
    eq(`a request body under sql_http_max_request (${MAX_REQUEST} bytes) is served`,
      await sql`select length(${under}::text) as n`, [{ n: under.length }])
    let e = await failure(sql`select length(${'x'.repeat(MAX_REQUEST + 1000)}::text) as n`)
    report(isStatus(e, 413), 'a request body over sql_http_max_request: the driver gets HTTP 413', errText(e))
    const rows = Math.ceil(MAX_RESPONSE / 50) * 2
    e = await failure(sql.query(`with recursive g(i) as (select 1 union all select i + 1 from g where i < ${rows}) ` +
      'select i, $1::text as pad from g', ['y'.repeat(40)]))
    report(isStatus(e, 507), `a response over sql_http_max_response (${rows} rows of ~50 bytes): the driver gets HTTP 507`, errText(e))
    e = await failure(sql.transaction([sql`insert into neon_tx values (${300}, ${'big'})`,
      sql.query(`with recursive g(i) as (select 1 union all select i + 1 from g where i < ${rows}) select i, $1::text as pad from g`, ['y'.repeat(40)])]))
    report(isStatus(e, 507), 'a transaction whose response is over the limit: HTTP 507', errText(e))
    eq('... and it was rolled back', await sql`select count(*)::int as c from neon_tx where id = ${300}`, [{ c: 0 }])
    eq('after 413 and 507 the endpoint still answers', await sql`select 1 as ok`, [{ ok: 1 }])
  })
}

async function lifecycleAndMetering () {
  if (!CONSOLE) {
    skip('pause and metering checks (DM_CONSOLE not set)')
    return
  }
  await group('metering', async () => {
    const before = usageRow(DB)
    const apiBefore = HTTP_API ? await apiUsage(DB) : null
    await sql`select 1 as a`
    await sql.query('select $1::int as b', [2])
    await sql`select * from neon_tx where id = ${1}`
    await sqlFull`select ${'x'}::text as c`
    await failure(sql`select * from no_such_table_for_metering`)
    const after = usageRow(DB)
    eq('SHOW USAGE: 5 HTTP queries (1 failing) add exactly 5 queries, 1 error and 4 rows returned',
      { queries: after.queries - before.queries, errors: after.errors - before.errors, rows_returned: after.rows_returned - before.rows_returned },
      { queries: 5, errors: 1, rows_returned: 4 })
    if (HTTP_API) {
      const apiAfter = await apiUsage(DB)
      eq('/v1/usage: the same 5 queries and 1 error', { queries: apiAfter.queries - apiBefore.queries, errors: apiAfter.errors - apiBefore.errors },
        { queries: 5, errors: 1 })
    }
    const t0 = usageRow(DB)
    await sql.transaction([sql`select 1 as a`, sql`select 2 as b`])
    const t1 = usageRow(DB)
    info(`a transaction of 2 queries added ${t1.queries - t0.queries} queries to the ledger (BEGIN and COMMIT included)`)
    report(t1.queries - t0.queries >= 2, 'a transaction of 2 queries is metered (at least its 2 queries)', t1.queries - t0.queries)
  })

  if (!SLEEPY_URL) {
    skip('pause check (NEON_SLEEPY_URL not set)')
    return
  }
  await group('scale to zero', async () => {
    const name = dbOf(SLEEPY_URL)
    const sleepy = neon(SLEEPY_URL)
    await sleepy`select 1 as warm`
    const row = await waitFor(() => { const r = dbRow(name); return r && r.state === 'paused' ? r : null }, 15000)
    if (!report(!!row, `the database ${name} (idle_timeout 1) pauses after an HTTP query`, show(dbRow(name)))) return
    const cold = +row.cold_starts
    const t = Date.now()
    const rows = await sleepy`select ${'awake'}::text as s, current_database() as db`
    const ms = Date.now() - t
    eq('an HTTP query to the paused database succeeds', rows, [{ s: 'awake', db: name }])
    const after = dbRow(name)
    eq('... it resumed it: cold_starts went up by 1, no longer paused', [+after.cold_starts - cold, after.state !== 'paused'], [1, true])
    info(`HTTP query to the paused ${name}: ${ms} ms (cold start)`)
  })
}

console.log(`INFO: ${ENGINE}: @neondatabase/serverless ${VERSION}, node ${process.version}, fetchEndpoint ${ENDPOINT}, database ${DB}`)
await types()
await modes()
await transactions()
await errors()
await rawProtocol()
await limits()
await lifecycleAndMetering()
console.log(`neon-http (${ENGINE}): ${passed} of ${passed + failed} checks passed`)
console.log('DONE')
process.exit(failed ? 1 : 0)
