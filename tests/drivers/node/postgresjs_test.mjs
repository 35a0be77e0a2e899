// postgresjs_test.mjs: the driver-matrix checks for postgres.js (`postgres`).
//
//     node postgresjs_test.mjs HOST PORT DBNAME USER
//
// postgres.js runs every query through the extended query protocol, as a
// named prepared statement by default (prepare: true) or an unnamed one
// (prepare: false); parameters and results in text.  With its defaults it
// also reads the array types from pg_catalog.pg_type on connecting
// (fetch_types), as every user of the driver does.  Checks: a table of every
// supported type from PostgreSQL DDL, rows inserted with tagged-template
// parameters and the multi-row insert helper, values read back through
// postgres.js's parsers (named and unnamed statements), the type OIDs of the
// columns and parameters, sql.begin() transactions and a savepoint, errors
// with their SQLSTATEs and recovery on the same connection, a 1000-row
// result, and a clean disconnect.
//
// Prints one "PASS: postgres.js: CHECK" or "FAIL: postgres.js: CHECK" line per
// check (details of a failure follow on lines starting with "    | ") and exits
// 1 if any check failed.  Needs Node 18 or later.

import { isDeepStrictEqual } from 'node:util'
import { readFileSync } from 'node:fs'
import postgres from 'postgres'

process.env.TZ = 'UTC' // postgres.js parses timestamp without time zone as local time
const DRIVER = 'postgres.js'
const VERSION = JSON.parse(readFileSync(new URL('node_modules/postgres/package.json', import.meta.url))).version
const TIMEOUT_S = 20

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

// Rows as postgres.js users write them: objects whose keys are the columns.
// int8 as BigInt (sent as int8), numeric as a string, timestamps as strings
// (microseconds) or Dates, json and jsonb as objects (postgres.js serializes
// a parameter by the type the server describes), arrays through sql.json().
function paramRows (sql) {
  return [
    { id: 1, b: true, i2: 32767, i4: 2147483647, i8: 9223372036854775807n, f4: 1.5, f8: 3.141592653589793,
      n: '12345678901234567890.123456789', t: UNICODE, vc: 'varchar ✓', c: 'ab', bt: Buffer.from([0, 0xff, 1, 0x80, 0]),
      d: '2024-02-29', tm: '13:45:30.123456', ts: '2024-02-29 13:45:30.123456', tz: new Date('2024-02-29T13:45:30.123Z'),
      u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', j: { a: [1, 2, { b: null }], s: '☃' },
      jb: sql.json({ k: 'v', n: 1.5, t: true }) },
    { id: 2, b: false, i2: -32768, i4: -2147483648, i8: -9223372036854775808n, f4: -0.5, f8: -1e300,
      n: '-98765.4321', t: QUOTED, vc: 'x', c: 'abcde', bt: ALL_BYTES, d: '1999-12-31', tm: '23:59:59.999999',
      ts: '1999-12-31 23:59:59.999999', tz: '1999-12-31 18:00:00-05', u: 'ffffffff-ffff-ffff-ffff-ffffffffffff',
      j: sql.json([]), jb: sql.json({ unicode: '日本', nested: { arr: [] } }) },
    { id: 3, b: false, i2: 0, i4: 0, i8: 0n, f4: 0, f8: 0, n: '0', t: '', vc: '', c: '', bt: Buffer.alloc(0),
      d: '2000-01-01', tm: '00:00:00', ts: '2000-01-01 00:00:00', tz: '2000-01-01 00:00:00+00',
      u: '00000000-0000-0000-0000-000000000000', j: {}, jb: sql.json([]) },
    Object.fromEntries(NAMES.map(n => [n, n === 'id' ? 4 : null]))
  ]
}

// The rows as postgres.js's default parsers return them (int8 and numeric
// as strings, date, timestamp and timestamptz as Dates, json parsed).
const EXPECTED = [
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
  [4, ...COLUMNS.map(() => null)]
]

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
  return JSON.stringify(v, (k, x) => typeof x === 'bigint' ? `${x}n` : x)
}

function compareRows (expected, rows) {
  if (rows.length !== expected.length) {
    throw new CheckFailed(`${rows.length} rows, expected ${expected.length}: ${show(rows)}`)
  }
  expected.forEach((want, r) => {
    NAMES.forEach((name, i) => {
      if (!same(want[i], rows[r][name])) {
        throw new CheckFailed(`row id=${want[0]} column ${name}: expected ${show(want[i])}, got ${show(rows[r][name])}`)
      }
    })
  })
}

class Runner {
  constructor (host, port, database, user) {
    this.options = { host, port, database, user, max: 1, connect_timeout: TIMEOUT_S, idle_timeout: 0, onnotice: () => {} }
    this.sql = null
    this.checks = 0
    this.failures = 0
    const suffix = `${process.pid}_${Date.now() % 100000000}`
    this.table = `drv_postgresjs_${suffix}`
    this.txTable = `drv_postgresjs_tx_${suffix}`
  }

  // One connection (max: 1), so that every check runs on the same session.
  open (extra = {}) {
    return postgres({ ...this.options, ...extra })
  }

  async check (name, fn) {
    this.checks++
    let timer
    try {
      await Promise.race([fn(), new Promise((resolve, reject) => {
        timer = setTimeout(() => reject(new CheckFailed(`no answer within ${3 * TIMEOUT_S} s`)), 3000 * TIMEOUT_S)
      })])
    } catch (e) {
      this.failures++
      console.log(`FAIL: ${DRIVER}: ${name}`)
      let detail = `${e.constructor.name}: ${e.message}`
      if (e.code) detail += ` [SQLSTATE ${e.code}]`
      if (!(e instanceof CheckFailed) && e.stack) detail += '\n' + e.stack.split('\n').slice(1, 4).join('\n')
      for (const line of detail.split('\n')) console.log(`    | ${line}`)
      return
    } finally {
      clearTimeout(timer)
    }
    console.log(`PASS: ${DRIVER}: ${name}`)
  }

  // ---- the checks ----

  async connectCheck () {
    this.sql = this.open()
    const [row] = await this.sql`select 1 as one`
    if (row?.one !== 1) throw new CheckFailed(`select 1 returned ${show(row)}`)
  }

  async create () {
    const sql = this.sql
    const cols = COLUMNS.map(([n, t]) => `${n} ${t}`).join(', ')
    await sql.unsafe(`create table ${this.table} (id integer primary key, ${cols})`)
    await sql`create table ${sql(this.txTable)} (id integer primary key, v text not null)`
  }

  async insert () {
    const sql = this.sql
    const rows = paramRows(sql)
    for (const row of rows.slice(0, 2)) {
      const res = await sql`insert into ${sql(this.table)} ${sql(row, NAMES)}`
      if (res.command !== 'INSERT' || res.count !== 1) {
        throw new CheckFailed(`command ${res.command}, count ${res.count} for id ${row.id}`)
      }
    }
    const res = await sql`insert into ${sql(this.table)} ${sql(rows.slice(2), NAMES)}`
    if (res.count !== 2) throw new CheckFailed(`multi-row insert: count ${res.count}`)
  }

  async select (sql) {
    const rows = await sql`select ${sql(NAMES)} from ${sql(this.table)} where id >= ${1} order by id`
    compareRows(EXPECTED, rows)
  }

  async selectUnnamed () {
    const sql = this.open({ prepare: false })
    try {
      await this.select(sql)
    } finally {
      await sql.end({ timeout: 5 })
    }
  }

  async types () {
    const sql = this.sql
    const res = await sql`select ${sql(NAMES)} from ${sql(this.table)} where id = ${1} and i8 = ${9223372036854775807n}`
    const got = res.columns.map(c => [c.name, c.type])
    const want = [['id', 23], ...COLUMNS.map(([n, , oid]) => [n, oid])]
    if (!isDeepStrictEqual(got, want)) {
      throw new CheckFailed(`columns [name, type OID]: expected ${show(want)}, got ${show(got)}`)
    }
    if (!isDeepStrictEqual(res.statement.types, [23, 20])) {
      throw new CheckFailed(`parameter type OIDs: expected [23,20], got ${show(res.statement.types)}`)
    }
  }

  async where () {
    const sql = this.sql
    const rows = await sql`select id, t from ${sql(this.table)}
      where i8 = ${'9223372036854775807'} and t = ${UNICODE} and bt = ${Buffer.from([0, 0xff, 1, 0x80, 0])}
        and u = ${'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'}`
    const [{ count }] = await sql`select count(*) from ${sql(this.table)} where b is null and i4 is null`
    if (!isDeepStrictEqual(rows.map(r => [r.id, r.t]), [[1, UNICODE]]) || count !== '1') {
      throw new CheckFailed(`where with parameters: ${show(rows)}, null row count ${show(count)}`)
    }
  }

  async rollback () {
    const sql = this.sql
    const undo = new Error('undo')
    try {
      await sql.begin(async sql => {
        await sql`insert into ${sql(this.txTable)} values (${1}, ${'rolled back'})`
        throw undo
      })
    } catch (e) {
      if (e !== undo) throw e
    }
    const [{ count }] = await sql`select count(*) from ${sql(this.txTable)} where id = ${1}`
    if (count !== '0') throw new CheckFailed(`the rolled back row is still there (${count})`)
  }

  async commit () {
    await this.sql.begin(async sql => {
      await sql`insert into ${sql(this.txTable)} values (${1}, ${'committed'})`
    })
    await this.sql.end({ timeout: 5 })
    this.sql = this.open()
    const sql = this.sql
    const [row] = await sql`select v from ${sql(this.txTable)} where id = ${1}`
    if (row?.v !== 'committed') throw new CheckFailed(`after commit and reconnect: ${show(row)}`)
  }

  async savepoint () {
    const sql = this.sql
    const undo = new Error('undo')
    await sql.begin(async sql => {
      await sql`insert into ${sql(this.txTable)} values (${2}, ${'kept'})`
      try {
        await sql.savepoint(async sql => {
          await sql`insert into ${sql(this.txTable)} values (${3}, ${'undone'})`
          throw undo
        })
      } catch (e) {
        if (e !== undo) throw e
      }
      await sql.savepoint(sql => sql`insert into ${sql(this.txTable)} values (${4}, ${'released'})`)
    })
    const ids = (await sql`select id from ${sql(this.txTable)} order by id`).map(r => r.id)
    if (!isDeepStrictEqual(ids, [1, 2, 4])) throw new CheckFailed(`ids after the savepoint rollback: ${show(ids)}`)
  }

  async expectError (query, sqlstate) {
    try {
      await query()
    } catch (e) {
      if (!(e instanceof postgres.PostgresError) || e.code !== sqlstate) {
        throw new CheckFailed(`got ${e.constructor.name} ${e.code}, expected PostgresError ${sqlstate}: ${e.message}`)
      }
      const [row] = await this.sql`select 42 as v`
      if (row?.v !== 42) throw new CheckFailed(`the error was right, but then select 42 answered ${show(row)}`)
      return
    }
    throw new CheckFailed(`no error, expected ${sqlstate}`)
  }

  async unique () {
    const sql = this.sql
    await this.expectError(() => sql`insert into ${sql(this.txTable)} values (${1}, ${'duplicate'})`, '23505')
  }

  async syntax () {
    await this.expectError(() => this.sql`selec ${1}`, '42601')
  }

  async failedBlock () {
    const sql = this.sql
    const seen = []
    try {
      await sql.begin(async sql => {
        await sql`insert into ${sql(this.txTable)} values (${5}, ${'in a failed block'})`
        for (const q of [() => sql`select 1/0`, () => sql`select ${1}::int4`]) {
          try {
            await q()
            seen.push('no error')
          } catch (e) {
            seen.push(e.code)
          }
        }
      })
    } catch (e) {
      // COMMIT of a failed block: PostgreSQL answers ROLLBACK; the driver may report it
    }
    if (!isDeepStrictEqual(seen, ['22012', '25P02'])) {
      throw new CheckFailed(`SQLSTATEs in the block: ${show(seen)}, expected ["22012","25P02"]`)
    }
    const [{ count }] = await sql`select count(*) from ${sql(this.txTable)} where id = ${5}`
    if (count !== '0') throw new CheckFailed('the failed block\'s insert survived')
  }

  async manyRows () {
    const sql = this.sql
    const big = `${this.table}_big`
    const rows = Array.from({ length: 1000 }, (_, i) => ({ id: i + 1, payload: `row ${i + 1} of 1000` }))
    await sql.begin(async sql => {
      await sql`create table ${sql(big)} (id bigint primary key, payload text)`
      for (let i = 0; i < 1000; i += 250) {
        await sql`insert into ${sql(big)} ${sql(rows.slice(i, i + 250), 'id', 'payload')}`
      }
    })
    const got = await sql`select id, payload from ${sql(big)} order by id`
    const want = rows.map(r => ({ id: String(r.id), payload: r.payload }))
    if (!isDeepStrictEqual(got.map(r => ({ ...r })), want)) {
      throw new CheckFailed(`${got.length} rows; first ${show(got.slice(0, 2))}`)
    }
  }

  async disconnect () {
    const sql = this.sql
    for (const t of [this.table, this.txTable, `${this.table}_big`]) {
      await sql`drop table if exists ${sql(t)}`
    }
    await sql.end({ timeout: 5 })
    this.sql = null
  }

  async run () {
    await this.check('connect (fetch_types) and select 1', () => this.connectCheck())
    await this.check('create table with every supported type (PostgreSQL DDL)', () => this.create())
    await this.check('text: insert rows with parameters (one by one, multi-row helper)', () => this.insert())
    await this.check('text: select values back (named prepared statement)', () => this.select(this.sql))
    await this.check('text: select values back (prepare: false, unnamed statement)', () => this.selectUnnamed())
    await this.check('column and parameter type OIDs', () => this.types())
    await this.check('bound parameters in WHERE (int8, unicode text, bytea, uuid)', () => this.where())
    await this.check('transaction rollback (sql.begin throws): the row is gone', () => this.rollback())
    await this.check('transaction commit: the row is there after reconnecting', () => this.commit())
    await this.check('savepoint: sql.savepoint() rolled back, another released', () => this.savepoint())
    await this.check('unique violation: 23505 (PostgresError.code), then the connection works', () => this.unique())
    await this.check('syntax error: 42601 (PostgresError.code), then the connection works', () => this.syntax())
    await this.check('error in a transaction: 22012, then 25P02 until rollback', () => this.failedBlock())
    await this.check('1000 rows: multi-row inserts in a transaction, read back', () => this.manyRows())
    await this.check('disconnect (dropping the tables)', () => this.disconnect())
  }
}

async function main () {
  if (process.argv.length !== 6) {
    console.error('usage: node postgresjs_test.mjs HOST PORT DBNAME USER')
    return 2
  }
  const [host, port, database, user] = process.argv.slice(2)
  const r = new Runner(host, Number(port), database, user)
  await r.run()
  if (r.sql) try { await r.sql.end({ timeout: 1 }) } catch (e) {}
  console.log(`${DRIVER} ${VERSION} (node ${process.version}): ${r.checks - r.failures} of ${r.checks} checks passed`)
  return r.failures ? 1 : 0
}

// postgres.js rejects internal promises nobody awaits when a connection
// fails (its fetch_types query, for one): report them, let the checks go on.
process.on('unhandledRejection', e => {
  console.log(`    | (unhandled rejection) ${e?.constructor?.name}: ${e?.message}${e?.code ? ` [SQLSTATE ${e.code}]` : ''}`)
})

process.exitCode = await main()
