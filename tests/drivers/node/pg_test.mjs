// pg_test.mjs: the driver-matrix checks for node-postgres (`pg`).
//
//     node pg_test.mjs HOST PORT DBNAME USER
//
// node-postgres sends a query with parameters through the extended query
// protocol (an unnamed statement, or a named one when the query has a name),
// parameters in text except Buffers, which go in binary; results always in
// text.  Checks: a table of every supported type from PostgreSQL DDL, rows
// inserted with $n parameters, values read back through pg's default type
// parsers and, with a `types` override, as the server's exact text, the type
// OIDs of the result, a named prepared statement, transactions and a savepoint,
// errors with their SQLSTATEs and recovery on the same connection, a 1000-row
// result, and a clean disconnect.
//
// Prints one "PASS: pg: CHECK" or "FAIL: pg: CHECK" line per check (details of
// a failure follow on lines starting with "    | ") and exits 1 if any check
// failed.  A failed check rolls back, or reconnects if the connection is gone,
// so that the later checks still run and report.  Needs Node 18 or later.

import { isDeepStrictEqual } from 'node:util'
import { readFileSync } from 'node:fs'
import pg from 'pg'

process.env.TZ = 'UTC' // pg parses timestamp without time zone as local time
const DRIVER = 'pg'
const VERSION = JSON.parse(readFileSync(new URL('node_modules/pg/package.json', import.meta.url))).version
const TIMEOUT_MS = 20000

// [name, DDL type, type OID PostgreSQL reports]
const COLUMNS = [
  ['b', 'boolean', 16], ['i2', 'smallint', 21], ['i4', 'integer', 23], ['i8', 'bigint', 20],
  ['f4', 'real', 700], ['f8', 'double precision', 701], ['n', 'numeric', 1700], ['t', 'text', 25],
  ['vc', 'character varying(20)', 1043], ['c', 'character(5)', 1042], ['bt', 'bytea', 17],
  ['d', 'date', 1082], ['tm', 'time without time zone', 1083], ['ts', 'timestamp without time zone', 1114],
  ['tz', 'timestamp with time zone', 1184], ['u', 'uuid', 2950], ['j', 'json', 114], ['jb', 'jsonb', 3802]
]
const NAMES = ['id', ...COLUMNS.map(c => c[0])]

const UNICODE = 'héllo wörld ☃ 日本語 🐭'
const QUOTED = 'it\'s "quoted" \\ tab\t newline\n end'
const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
const NULLS = COLUMNS.map(() => null)

// Parameters as this driver's users pass them: JS numbers where they are
// exact, strings for int8, numeric and the date/time types that carry
// microseconds, Buffers for bytea, JSON text for json and jsonb.
const PARAMS = [
  [1, true, 32767, 2147483647, '9223372036854775807', 1.5, 3.141592653589793,
    '12345678901234567890.123456789', UNICODE, 'varchar ✓', 'ab', Buffer.from([0, 0xff, 1, 0x80, 0]),
    '2024-02-29', '13:45:30.123456', '2024-02-29 13:45:30.123456', new Date('2024-02-29T13:45:30.123Z'),
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2, {"b": null}], "s": "☃"}',
    JSON.stringify({ k: 'v', n: 1.5, t: true })],
  [2, false, -32768, -2147483648, '-9223372036854775808', -0.5, -1e300, '-98765.4321', QUOTED, 'x', 'abcde',
    ALL_BYTES, '1999-12-31', '23:59:59.999999', '1999-12-31 23:59:59.999999', '1999-12-31 18:00:00-05',
    'ffffffff-ffff-ffff-ffff-ffffffffffff', '[]', '{"unicode": "日本", "nested": {"arr": []}}'],
  [3, false, 0, 0, '0', 0, 0, '0', '', '', '', Buffer.alloc(0), '2000-01-01', '00:00:00', '2000-01-01 00:00:00',
    '2000-01-01 00:00:00+00', '00000000-0000-0000-0000-000000000000', '{}', '[]'],
  [4, ...NULLS]
]

// The rows as pg's default type parsers return them.
const PARSED = [
  [1, true, 32767, 2147483647, '9223372036854775807', 1.5, 3.141592653589793,
    '12345678901234567890.123456789', UNICODE, 'varchar ✓', 'ab   ', Buffer.from([0, 0xff, 1, 0x80, 0]),
    new Date('2024-02-29T00:00:00Z'), '13:45:30.123456', new Date('2024-02-29T13:45:30.123Z'),
    new Date('2024-02-29T13:45:30.123Z'), 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    { a: [1, 2, { b: null }], s: '☃' }, { k: 'v', n: 1.5, t: true }],
  [2, false, -32768, -2147483648, '-9223372036854775808', -0.5, -1e300, '-98765.4321', QUOTED, 'x', 'abcde',
    ALL_BYTES, new Date('1999-12-31T00:00:00Z'), '23:59:59.999999', new Date('1999-12-31T23:59:59.999Z'),
    new Date('1999-12-31T23:00:00Z'), 'ffffffff-ffff-ffff-ffff-ffffffffffff', [],
    { nested: { arr: [] }, unicode: '日本' }],
  [3, false, 0, 0, '0', 0, 0, '0', '', '', '     ', Buffer.alloc(0), new Date('2000-01-01T00:00:00Z'), '00:00:00',
    new Date('2000-01-01T00:00:00Z'), new Date('2000-01-01T00:00:00Z'), '00000000-0000-0000-0000-000000000000',
    {}, []],
  [4, ...NULLS]
]

// The rows in PostgreSQL's text output format (session TimeZone UTC).
const TEXT = [
  ['1', 't', '32767', '2147483647', '9223372036854775807', '1.5', '3.141592653589793',
    '12345678901234567890.123456789', UNICODE, 'varchar ✓', 'ab   ', '\\x00ff018000', '2024-02-29',
    '13:45:30.123456', '2024-02-29 13:45:30.123456', '2024-02-29 13:45:30.123+00',
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2, {"b": null}], "s": "☃"}',
    '{"k": "v", "n": 1.5, "t": true}'],
  ['2', 'f', '-32768', '-2147483648', '-9223372036854775808', '-0.5', '-1e+300', '-98765.4321', QUOTED, 'x',
    'abcde', '\\x' + ALL_BYTES.toString('hex'), '1999-12-31', '23:59:59.999999', '1999-12-31 23:59:59.999999',
    '1999-12-31 23:00:00+00', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '[]',
    '{"nested": {"arr": []}, "unicode": "日本"}'],
  ['3', 'f', '0', '0', '0', '0', '0', '0', '', '', '     ', '\\x', '2000-01-01', '00:00:00', '2000-01-01 00:00:00',
    '2000-01-01 00:00:00+00', '00000000-0000-0000-0000-000000000000', '{}', '[]'],
  ['4', ...NULLS]
]

const RAW_TEXT = { getTypeParser: () => value => value }

class CheckFailed extends Error {}

function same (a, b) {
  if (a instanceof Date || b instanceof Date) {
    return a instanceof Date && b instanceof Date && a.getTime() === b.getTime()
  }
  if (Buffer.isBuffer(a) || Buffer.isBuffer(b)) return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b)
  return isDeepStrictEqual(a, b)
}

function show (v) {
  if (Buffer.isBuffer(v)) return `Buffer<${v.toString('hex')}>`
  if (v instanceof Date) return `Date(${v.toISOString()})`
  return JSON.stringify(v)
}

function compareRows (expected, rows) {
  if (rows.length !== expected.length) {
    throw new CheckFailed(`${rows.length} rows, expected ${expected.length}: ${show(rows)}`)
  }
  expected.forEach((want, r) => {
    NAMES.forEach((name, i) => {
      if (!same(want[i], rows[r][i])) {
        throw new CheckFailed(`row id=${want[0]} column ${name}: expected ${show(want[i])}, got ${show(rows[r][i])}`)
      }
    })
  })
}

class Runner {
  constructor (host, port, database, user) {
    this.config = { host, port, database, user, connectionTimeoutMillis: TIMEOUT_MS, query_timeout: TIMEOUT_MS }
    this.client = null
    this.broken = false
    this.checks = 0
    this.failures = 0
    const suffix = `${process.pid}_${Date.now() % 100000000}`
    this.table = `drv_pg_${suffix}`
    this.txTable = `drv_pg_tx_${suffix}`
  }

  async connect () {
    const client = new pg.Client(this.config)
    client.on('error', () => { this.broken = true }) // a lost connection; recover() replaces it
    this.broken = false
    await client.connect()
    this.client = client
  }

  async check (name, fn) {
    this.checks++
    try {
      await fn()
    } catch (e) {
      this.failures++
      console.log(`FAIL: ${DRIVER}: ${name}`)
      let detail = `${e.constructor.name}: ${e.message}`
      if (e.code) detail += ` [SQLSTATE ${e.code}]`
      if (!(e instanceof CheckFailed) && e.stack) detail += '\n' + e.stack.split('\n').slice(1, 4).join('\n')
      for (const line of detail.split('\n')) console.log(`    | ${line}`)
      await this.recover()
      return
    }
    console.log(`PASS: ${DRIVER}: ${name}`)
  }

  async recover () {
    if (this.client && !this.broken) {
      try {
        await this.client.query('rollback')
        return
      } catch (e) {}
    }
    try { await this.client?.end() } catch (e) {}
    try { await this.connect() } catch (e) { this.client = null }
  }

  async scalar (text, values) {
    const res = await this.client.query({ text, values, rowMode: 'array' })
    return res.rows[0][0]
  }

  // ---- the checks ----

  async connectCheck () {
    await this.connect()
    const v = await this.scalar('select 1')
    if (v !== 1) throw new CheckFailed(`select 1 returned ${show(v)}`)
  }

  async create () {
    const cols = COLUMNS.map(([n, t]) => `${n} ${t}`).join(', ')
    await this.client.query(`create table ${this.table} (id integer primary key, ${cols})`)
    await this.client.query(`create table ${this.txTable} (id integer primary key, v text not null)`)
  }

  async insert () {
    const marks = NAMES.map((_, i) => `$${i + 1}`).join(', ')
    for (const row of PARAMS) {
      const res = await this.client.query(`insert into ${this.table} (${NAMES.join(', ')}) values (${marks})`, row)
      if (res.command !== 'INSERT' || res.rowCount !== 1) {
        throw new CheckFailed(`command ${res.command}, rowCount ${res.rowCount} for id ${row[0]}`)
      }
    }
  }

  async selectParsed () {
    const res = await this.client.query({
      text: `select ${NAMES.join(', ')} from ${this.table} where id >= $1 order by id`, values: [1], rowMode: 'array'
    })
    compareRows(PARSED, res.rows)
  }

  async selectText () {
    const res = await this.client.query({
      text: `select ${NAMES.join(', ')} from ${this.table} order by id`, rowMode: 'array', types: RAW_TEXT
    })
    compareRows(TEXT, res.rows)
  }

  async types () {
    const res = await this.client.query(`select ${NAMES.join(', ')} from ${this.table} where id = $1`, [1])
    const got = res.fields.map(f => [f.name, f.dataTypeID, f.format])
    const want = [['id', 23, 'text'], ...COLUMNS.map(([n, , oid]) => [n, oid, 'text'])]
    if (!isDeepStrictEqual(got, want)) {
      throw new CheckFailed(`fields [name, type OID, format]: expected ${show(want)}, got ${show(got)}`)
    }
  }

  async where () {
    const res = await this.client.query({
      text: `select id, t from ${this.table} where i8 = $1 and t = $2 and bt = $3 and u = $4`,
      values: ['9223372036854775807', UNICODE, Buffer.from([0, 0xff, 1, 0x80, 0]), 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'],
      rowMode: 'array'
    })
    const nulls = await this.scalar(`select count(*) from ${this.table} where b is null and i4 is null`)
    if (!isDeepStrictEqual(res.rows, [[1, UNICODE]]) || nulls !== '1') {
      throw new CheckFailed(`where with parameters: ${show(res.rows)}, null row count ${show(nulls)}`)
    }
  }

  async prepared () {
    const text = `select t, i8 from ${this.table} where id = $1`
    for (const id of [1, 2, 1]) {
      const res = await this.client.query({ name: `drv_pg_get_${process.pid}`, text, values: [id], rowMode: 'array' })
      const want = [[PARSED[id - 1][8], PARSED[id - 1][4]]]
      if (!isDeepStrictEqual(res.rows, want)) {
        throw new CheckFailed(`named statement with id=${id}: ${show(res.rows)}, expected ${show(want)}`)
      }
    }
  }

  async rollback () {
    await this.client.query('begin')
    await this.client.query(`insert into ${this.txTable} values ($1, $2)`, [1, 'rolled back'])
    await this.client.query('rollback')
    const n = await this.scalar(`select count(*) from ${this.txTable} where id = $1`, [1])
    if (n !== '0') throw new CheckFailed(`the rolled back row is still there (${n})`)
  }

  async commit () {
    await this.client.query('begin')
    await this.client.query(`insert into ${this.txTable} values ($1, $2)`, [1, 'committed'])
    await this.client.query('commit')
    await this.client.end()
    await this.connect()
    const v = await this.scalar(`select v from ${this.txTable} where id = $1`, [1])
    if (v !== 'committed') throw new CheckFailed(`after commit and reconnect: ${show(v)}`)
  }

  async savepoint () {
    await this.client.query('begin')
    await this.client.query(`insert into ${this.txTable} values ($1, $2)`, [2, 'kept'])
    await this.client.query('savepoint sp1')
    await this.client.query(`insert into ${this.txTable} values ($1, $2)`, [3, 'undone'])
    await this.client.query('rollback to savepoint sp1')
    await this.client.query(`insert into ${this.txTable} values ($1, $2)`, [4, 'after'])
    await this.client.query('release savepoint sp1')
    await this.client.query('commit')
    const res = await this.client.query(`select id from ${this.txTable} order by id`)
    const ids = res.rows.map(r => r.id)
    if (!isDeepStrictEqual(ids, [1, 2, 4])) throw new CheckFailed(`ids after the savepoint rollback: ${show(ids)}`)
  }

  async expectError (text, values, sqlstate) {
    try {
      await this.client.query(text, values)
    } catch (e) {
      if (!(e instanceof pg.DatabaseError) || e.code !== sqlstate) {
        throw new CheckFailed(`${text}: got ${e.constructor.name} ${e.code}, expected DatabaseError ${sqlstate}: ${e.message}`)
      }
      const v = await this.scalar('select 42')
      if (v !== 42) throw new CheckFailed(`the error was right, but then select 42 answered ${show(v)}`)
      return
    }
    throw new CheckFailed(`${text}: no error, expected ${sqlstate}`)
  }

  async unique () {
    await this.expectError(`insert into ${this.txTable} values ($1, $2)`, [1, 'duplicate'], '23505')
  }

  async syntax () {
    await this.expectError('selec $1', [1], '42601')
  }

  async failedBlock () {
    await this.client.query('begin')
    await this.client.query(`insert into ${this.txTable} values ($1, $2)`, [5, 'in a failed block'])
    for (const [text, values, sqlstate] of [['select 1/0', [], '22012'], ['select $1::int4', [1], '25P02']]) {
      const got = await this.client.query(text, values).then(() => 'no error', e => e.code)
      if (got !== sqlstate) throw new CheckFailed(`${text}: ${got}, expected ${sqlstate}`)
    }
    await this.client.query('rollback')
    const n = await this.scalar(`select count(*) from ${this.txTable} where id = 5`)
    if (n !== '0') throw new CheckFailed('the failed block\'s insert survived the rollback')
  }

  async manyRows () {
    const big = `${this.table}_big`
    await this.client.query('begin')
    await this.client.query(`create table ${big} (id bigint primary key, payload text)`)
    for (let i = 1; i <= 1000; i++) {
      await this.client.query(`insert into ${big} values ($1, $2)`, [i, `row ${i} of 1000`])
    }
    await this.client.query('commit')
    const res = await this.client.query({ text: `select id, payload from ${big} order by id`, rowMode: 'array' })
    const want = Array.from({ length: 1000 }, (_, i) => [String(i + 1), `row ${i + 1} of 1000`])
    if (!isDeepStrictEqual(res.rows, want)) {
      throw new CheckFailed(`${res.rows.length} rows; first ${show(res.rows.slice(0, 2))}`)
    }
  }

  async disconnect () {
    for (const t of [this.table, this.txTable, `${this.table}_big`]) {
      await this.client.query(`drop table if exists ${t}`)
    }
    await this.client.end()
    this.client = null
  }

  async run () {
    await this.check('connect and select 1', () => this.connectCheck())
    if (!this.client) return
    await this.check('create table with every supported type (PostgreSQL DDL)', () => this.create())
    await this.check('text: insert rows with $n parameters (bytea as binary)', () => this.insert())
    await this.check('text: select values back (pg\'s default type parsers)', () => this.selectParsed())
    await this.check('text: select values back as the server\'s text (types override)', () => this.selectText())
    await this.check('text: field names, type OIDs and formats', () => this.types())
    await this.check('bound parameters in WHERE (int8, unicode text, bytea, uuid)', () => this.where())
    await this.check('named prepared statement, executed three times', () => this.prepared())
    await this.check('transaction rollback: the row is gone', () => this.rollback())
    await this.check('transaction commit: the row is there after reconnecting', () => this.commit())
    await this.check('savepoint: rollback to savepoint, release, commit', () => this.savepoint())
    await this.check('unique violation: 23505 (DatabaseError.code), then the connection works', () => this.unique())
    await this.check('syntax error: 42601 (DatabaseError.code), then the connection works', () => this.syntax())
    await this.check('error in a transaction: 22012, then 25P02 until rollback', () => this.failedBlock())
    await this.check('1000 rows: inserted one by one in a transaction, read back', () => this.manyRows())
    await this.check('disconnect (dropping the tables)', () => this.disconnect())
  }
}

async function main () {
  if (process.argv.length !== 6) {
    console.error('usage: node pg_test.mjs HOST PORT DBNAME USER')
    return 2
  }
  const [host, port, database, user] = process.argv.slice(2)
  const r = new Runner(host, Number(port), database, user)
  await r.run()
  if (r.client) try { await r.client.end() } catch (e) {}
  console.log(`${DRIVER} ${VERSION} (node ${process.version}): ${r.checks - r.failures} of ${r.checks} checks passed`)
  return r.failures ? 1 : 0
}

process.exitCode = await main()
