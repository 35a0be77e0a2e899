// bench/serverless/bench.mjs: one-shot query latency from Node, run by
// bench/serverless.sh (which starts the servers and passes their ports in the
// environment).  One Node process; every way in runs the same two queries:
//
//   add    select $1::int + 1 as n                          ($1 a counter)
//   read   select id, name, balance from items where id = $1 (1,000-row table,
//          primary key, $1 random)
//
// Ways in, for each server (Dormouse's SQLite engine, Dormouse relaying to the
// PostgreSQL, the PostgreSQL directly):
//   http    neon() over HTTP (POST /sql; Node's fetch keeps the connection alive)
//   ws      a new WebSocket per query: the driver's Client over /v2, connect,
//           query, end
//   tcp     node-postgres (pg), a new TCP connection per query: connect, query, end
//   pooled  pg, one connection kept open for the whole run (the floor)
//
// Sequential: N queries per (way, server, query), in blocks of BLOCK run round
// robin (the order rotating every round) so that drift touches all alike, after
// one warm-up block each.  Latency is from the start of connect to the end of
// end(); "rows" is the time until the rows were in hand (connect + query).
// CPU per query: this process's (process.cpuUsage), Dormouse's (its utime +
// stime) and PostgreSQL's (the postmaster's utime + stime + cutime + cstime:
// backends that exited count, the background processes' own ticks too).
//
// Concurrent: CLIENTS async clients in this process, each running the read
// query one-shot in a loop for SECS seconds: queries per second.
//
// Prints Markdown.  Environment (set by serverless.sh): DM_PORT, DM_HTTP_PORT,
// DM_PID, PG_PORT, PG_PID, DB_USER, DB_PASSWORD, N, WS_N, BLOCK, SECS, CLIENTS,
// WAYS (comma list of way@server to run, default all).
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import ws from 'ws';
import { neon, neonConfig, Client as NeonClient } from '@neondatabase/serverless';

const env = (k, d) => (process.env[k] !== undefined && process.env[k] !== '' ? process.env[k] : d);
const DM_PORT = +env('DM_PORT');
const DM_HTTP_PORT = +env('DM_HTTP_PORT');
const DM_PID = +env('DM_PID');
const PG_PORT = +env('PG_PORT');
const PG_PID = +env('PG_PID');
const USER = env('DB_USER', 'bench');
const PASSWORD = env('DB_PASSWORD', 'bench');
const N = +env('N', 500);
// With SCRAM, a new WebSocket per query costs 100 ms or more, nearly all of it
// this process's CPU: the driver's Client computes SCRAM's PBKDF2 (4,096
// HMAC-SHA-256) with the JavaScript SHA-256 bundled in it (node-postgres uses
// WebCrypto: under 1 ms).  So these rows run fewer queries (WS_N).
const WS_N = +env('WS_N', 50);
const BLOCK = Math.max(1, Math.min(+env('BLOCK', 50), N));
const SECS = +env('SECS', 3);
const CLIENTS = +env('CLIENTS', 8);
const TIMEOUT_MS = +env('TIMEOUT_MS', 10000);
const ROWS = 1000;

neonConfig.fetchEndpoint = `http://127.0.0.1:${DM_HTTP_PORT}/sql`;
neonConfig.webSocketConstructor = ws;
neonConfig.wsProxy = () => `127.0.0.1:${DM_HTTP_PORT}/v2`;
neonConfig.useSecureWebSocket = false;
neonConfig.pipelineConnect = false;

const SERVERS = {
    sqlite: { label: 'Dormouse (SQLite)', port: DM_PORT, db: 'bench', pid: [DM_PID] },
    relay: { label: 'Dormouse → PostgreSQL', port: DM_PORT, db: 'relay', pid: [DM_PID, PG_PID] },
    pg: { label: 'PostgreSQL direct', port: PG_PORT, db: 'bench', pid: [PG_PID] },
};
const WAY_LABEL = {
    http: 'HTTP, neon() (keep-alive)',
    ws: 'WebSocket, new per query',
    tcp: 'pg, new TCP per query',
    pooled: 'pg, one kept connection',
};
const url = (s) => `postgresql://${encodeURIComponent(USER)}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${s.port}/${s.db}`;
const pgConfig = (s) => ({ host: '127.0.0.1', port: s.port, database: s.db, user: USER, password: PASSWORD,
    connectionTimeoutMillis: TIMEOUT_MS });

let counter = 0;
const QUERIES = {
    add: {
        text: 'select $1::int + 1 as n',
        params: () => [++counter % 1000000],
        check: (p, rows) => rows.length === 1 && Number(rows[0].n) === p[0] + 1,
    },
    read: {
        text: 'select id, name, balance from items where id = $1',
        params: () => [1 + Math.floor(Math.random() * ROWS)],
        check: (p, rows) => rows.length === 1 && Number(rows[0].id) === p[0] && rows[0].name === `item ${p[0]}`,
    },
};

// ---- the ways in: make(server) -> { op(query) -> {rows, tRows}, close() } ----

function withTimeout(promise, what) {
    let timer;
    return Promise.race([
        promise,
        new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`${what}: no answer in ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
        }),
    ]).finally(() => clearTimeout(timer));
}


// A way in that opens a new client per query: connect, query, end().
function oneShot(newClient) {
    return {
        async op(q, p) {
            const c = newClient();
            c.on('error', () => {}); // a late error after end() would otherwise be thrown
            try {
                await c.connect();
                const { rows } = await c.query(q.text, p);
                const tRows = performance.now();
                await c.end();
                return { rows, tRows };
            } catch (e) {
                c.end().catch(() => {});
                throw e;
            }
        },
        async close() {},
    };
}

const WAYS = {
    http(s) {
        const sql = neon(url(s));
        return {
            async op(q, p) { const rows = await sql.query(q.text, p); return { rows, tRows: performance.now() }; },
            async close() {},
        };
    },
    ws(s) {
        return oneShot(() => new NeonClient({ connectionString: url(s) }));
    },
    tcp(s) {
        return oneShot(() => new pg.Client(pgConfig(s)));
    },
    pooled(s) {
        let c = null;
        return {
            async op(q, p) {
                if (!c) {
                    c = new pg.Client(pgConfig(s));
                    c.on('error', () => {});
                    await c.connect();
                }
                try {
                    const { rows } = await c.query(q.text, p);
                    return { rows, tRows: performance.now() };
                } catch (e) {
                    const dead = c; c = null; dead.end().catch(() => {});
                    throw e;
                }
            },
            async close() { if (c) await c.end().catch(() => {}); c = null; },
        };
    },
};

// ---- CPU time ----
const CLK_TCK = 100; // Linux's USER_HZ
function procTicks(pid, children) {
    try {
        const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
        let t = +f[11] + +f[12]; // utime, stime (fields 14, 15)
        if (children) t += +f[13] + +f[14]; // cutime, cstime (16, 17)
        return t;
    } catch {
        return NaN;
    }
}
const serverTicks = (s) => s.pid.reduce((a, pid) => a + procTicks(pid, pid === PG_PID), 0);
const clientMicros = () => { const u = process.cpuUsage(); return u.user + u.system; };

function status(pid) {
    const out = {};
    try {
        for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
            const m = /^(VmRSS|Threads):\s+(\d+)/.exec(line);
            if (m) out[m[1]] = +m[2];
        }
        out.fds = fdKinds(pid);
    } catch {}
    return out;
}

// Dormouse's open descriptors by kind: TCP sockets from /proc/net/tcp*, by port
function fdKinds(pid) {
    const sockets = new Map();
    for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
        let text = '';
        try { text = readFileSync(f, 'utf8'); } catch { continue; }
        for (const line of text.split('\n').slice(1)) {
            const c = line.trim().split(/\s+/);
            if (c.length < 10) continue;
            const lport = parseInt(c[1].split(':')[1], 16), rport = parseInt(c[2].split(':')[1], 16);
            let kind = 'other TCP';
            if (c[3] === '0A') kind = 'listening';
            else if (lport === DM_HTTP_PORT) kind = 'HTTP/WebSocket clients';
            else if (lport === DM_PORT) kind = 'TCP clients';
            else if (rport === PG_PORT) kind = 'upstream PostgreSQL';
            sockets.set(c[9], kind);
        }
    }
    const kinds = {};
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        let l = '';
        try { l = readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; }
        const m = /^socket:\[(\d+)\]$/.exec(l);
        const kind = m ? sockets.get(m[1]) ?? 'Unix sockets' : l.startsWith('/') ? 'files' : 'other';
        kinds[kind] = (kinds[kind] ?? 0) + 1;
    }
    return kinds;
}
const fdTotal = (k) => Object.values(k ?? {}).reduce((a, b) => a + b, 0);
const fdText = (k) => Object.entries(k ?? {}).sort().map(([a, b]) => `${a} ${b}`).join(', ');

// per-thread CPU ticks of a process
function threadTicks(pid) {
    const out = new Map();
    try {
        for (const t of readdirSync(`/proc/${pid}/task`)) out.set(t, procTicks(`${pid}/task/${t}`, false));
    } catch {}
    return out;
}

// ---- helpers ----
function pct(sorted, p) {
    if (!sorted.length) return NaN;
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const f0 = (x) => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? (a / b).toFixed(2) : 'n/a');
const log = (...a) => process.stderr.write(a.join(' ') + '\n');

// ---- setup: the same 1,000-row table in Dormouse's SQLite database and in PostgreSQL ----
async function setup() {
    const values = [];
    for (let i = 1; i <= ROWS; i++) values.push(`(${i}, 'item ${i}', ${(i * 7919) % 10000})`);
    for (const s of [SERVERS.sqlite, SERVERS.pg]) {
        const c = new pg.Client(pgConfig(s));
        await c.connect();
        await c.query('drop table if exists items');
        await c.query('create table items (id integer primary key, name text not null, balance integer not null)');
        await c.query(`insert into items values ${values.join(', ')}`);
        const { rows } = await c.query('select count(*) as n from items');
        if (Number(rows[0].n) !== ROWS) throw new Error(`${s.label}: items has ${rows[0].n} rows`);
        await c.end();
    }
}

// ---- sequential one-shot queries ----
function newCase(way, server, query) {
    return { way, server, query, inst: WAYS[way](SERVERS[server]), lat: [], rowsLat: [], errors: 0, firstError: null,
        clientUs: 0, serverTicks: 0, n: 0 };
}

async function runBlock(c, count, record) {
    const q = QUERIES[c.query];
    const s = SERVERS[c.server];
    const cpu0 = clientMicros(), tk0 = serverTicks(s);
    for (let i = 0; i < count; i++) {
        const p = q.params();
        const t0 = performance.now();
        try {
            const { rows, tRows } = await withTimeout(c.inst.op(q, p), `${c.way} ${c.server}`);
            const t1 = performance.now();
            if (!q.check(p, rows)) throw new Error(`wrong answer for ${JSON.stringify(p)}: ${JSON.stringify(rows)}`);
            if (record) { c.lat.push(t1 - t0); c.rowsLat.push(tRows - t0); }
        } catch (e) {
            if (record) { c.errors++; c.firstError ??= String(e.message || e).slice(0, 200); }
            else c.warmError ??= String(e.message || e).slice(0, 200);
        }
    }
    if (record) {
        c.clientUs += clientMicros() - cpu0;
        c.serverTicks += serverTicks(s) - tk0;
        c.n += count;
    }
}

let dm0 = {};
const nOf = (c) => (c.way === 'ws' ? Math.min(N, WS_N) : N);
async function sequential(cases) {
    const rounds = Math.ceil(N / BLOCK);
    for (const c of cases) await runBlock(c, Math.ceil(nOf(c) / rounds), false); // warm-up: one block
    dm0 = status(DM_PID);
    for (let r = 0; r < rounds; r++) {
        for (let k = 0; k < cases.length; k++) {
            const c = cases[(k + r) % cases.length];
            const count = Math.min(Math.ceil(nOf(c) / rounds), nOf(c) - c.n);
            if (count > 0) await runBlock(c, count, true);
        }
    }
    for (const c of cases) await c.inst.close();
}

// ---- concurrent one-shot queries ----
async function concurrent(way, server) {
    const s = SERVERS[server], q = QUERIES.read;
    const insts = Array.from({ length: CLIENTS }, () => WAYS[way](s));
    const lat = [];
    let errors = 0, firstError = null;
    const loop = async (inst, until, record) => {
        while (performance.now() < until) {
            const p = q.params();
            const t0 = performance.now();
            try {
                const { rows } = await withTimeout(inst.op(q, p), `${way} ${server}`);
                if (!q.check(p, rows)) throw new Error(`wrong answer for ${JSON.stringify(p)}`);
                if (record) lat.push(performance.now() - t0);
            } catch (e) {
                if (record) { errors++; firstError ??= String(e.message || e).slice(0, 200); }
            }
        }
    };
    await Promise.all(insts.map((i) => loop(i, performance.now() + 500, false))); // warm-up
    const cpu0 = clientMicros(), tk0 = serverTicks(s), th0 = threadTicks(DM_PID), t0 = performance.now();
    await Promise.all(insts.map((i) => loop(i, t0 + SECS * 1000, true)));
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = clientMicros() - cpu0, tk = serverTicks(s) - tk0;
    let busiest = 0;
    for (const [t, v] of threadTicks(DM_PID)) if (th0.has(t)) busiest = Math.max(busiest, v - th0.get(t));
    busiest = (100 * busiest) / CLK_TCK / elapsed;
    await Promise.all(insts.map((i) => i.close()));
    lat.sort((a, b) => a - b);
    return { way, server, busiest, qps: lat.length / elapsed, p50: pct(lat, 50), p99: pct(lat, 99), n: lat.length, errors, firstError,
        clientUs: cpu / Math.max(1, lat.length + errors), serverUs: (tk * 1e6) / CLK_TCK / Math.max(1, lat.length + errors) };
}

// ---- main ----
const ALL = ['http@sqlite', 'ws@sqlite', 'tcp@sqlite', 'pooled@sqlite', 'http@relay', 'ws@relay', 'tcp@relay', 'pooled@relay',
    'tcp@pg', 'pooled@pg'];
const CONC = ['http@sqlite', 'ws@sqlite', 'tcp@sqlite', 'pooled@sqlite', 'http@relay', 'tcp@relay', 'pooled@relay', 'tcp@pg',
    'pooled@pg'];
const chosen = env('WAYS', '') ? env('WAYS').split(',') : ALL;
for (const w of chosen) if (!ALL.includes(w)) { log(`unknown way ${w}; known: ${ALL.join(',')}`); process.exit(2); }

log(`setting up the ${ROWS}-row table`);
await setup();

const cases = [];
for (const query of Object.keys(QUERIES)) for (const w of chosen) {
    const [way, server] = w.split('@');
    cases.push(newCase(way, server, query));
}
const t0 = performance.now();
log(`sequential: ${cases.length} cases x ${N} queries`);
await sequential(cases);
log(`sequential took ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const conc = [];
if (SECS > 0 && CLIENTS > 0) {
    for (const w of CONC.filter((w) => chosen.includes(w))) {
        const [way, server] = w.split('@');
        log(`concurrent: ${w}`);
        conc.push(await concurrent(way, server));
    }
}
// close Node's keep-alive HTTP connections, then look at Dormouse's descriptors
await globalThis[Symbol.for('undici.globalDispatcher.1')]?.close?.().catch(() => {});
await new Promise((r) => setTimeout(r, 500));
const dm1 = status(DM_PID);

// ---- report ----
const pkgVersion = (name) => JSON.parse(readFileSync(new URL(`node_modules/${name}/package.json`, import.meta.url), 'utf8')).version;
const versions = { neon: pkgVersion('@neondatabase/serverless'), pg: pkgVersion('pg'), ws: pkgVersion('ws') };
const rounds = Math.ceil(N / BLOCK);
console.log(`Node ${process.version}, @neondatabase/serverless ${versions.neon}, pg ${versions.pg}, ws ${versions.ws}; ` +
    `${N} sequential one-shot queries per row (WebSocket rows: ${Math.min(N, WS_N)}), in ${rounds} rounds taking ` +
    `the rows round robin, after one round to warm up`);
console.log();
console.log('Sequential, one query at a time (ms; "rows p50" is connect + query, without end()):');
console.log();
console.log('| query | server | way in | n | p50 | p90 | p99 | mean | rows p50 | client CPU µs/q | server CPU µs/q | p50 / pooled (same server) | p50 / PostgreSQL new TCP | errors |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
const notes = [];
for (const query of Object.keys(QUERIES)) {
    const qc = cases.filter((c) => c.query === query);
    for (const c of qc) { c.lat.sort((a, b) => a - b); c.rowsLat.sort((a, b) => a - b); }
    const p50Of = (way, server) => { const x = qc.find((c) => c.way === way && c.server === server); return x ? pct(x.lat, 50) : NaN; };
    const pgNew = p50Of('tcp', 'pg');
    for (const c of qc) {
        const s = SERVERS[c.server];
        const p50 = pct(c.lat, 50);
        const floor = p50Of('pooled', c.server);
        const srvUs = (c.serverTicks * 1e6) / CLK_TCK / Math.max(1, c.n);
        console.log(`| ${c.query} | ${s.label} | ${WAY_LABEL[c.way]} | ${c.lat.length} | ${f2(p50)} | ${f2(pct(c.lat, 90))} | ${f2(pct(c.lat, 99))} | ` +
            `${f2(c.lat.length ? mean(c.lat) : NaN)} | ${f2(pct(c.rowsLat, 50))} | ${f0(c.clientUs / Math.max(1, c.n))} | ${f0(srvUs)} | ` +
            `${c.way === 'pooled' ? '1' : ratio(p50, floor)} | ${ratio(p50, pgNew)} | ${c.errors} |`);
        if (c.firstError) notes.push(`${c.query}, ${s.label}, ${WAY_LABEL[c.way]}: ${c.errors} errors, the first: ${c.firstError}`);
        if (c.warmError) notes.push(`${c.query}, ${s.label}, ${WAY_LABEL[c.way]}: during warm-up: ${c.warmError}`);
    }
}
console.log();
console.log('Client CPU: this Node process\'s, its libuv threads\' included (node-postgres computes SCRAM\'s PBKDF2 there); ' +
    'server CPU: Dormouse\'s, PostgreSQL\'s (its exited backends included), or both for the relay; from /proc, in 10 ms ticks.');
if (conc.length) {
    console.log();
    console.log(`Concurrent: ${CLIENTS} clients in this one Node process, each running the read query one-shot in a loop, ${SECS} s per row:`);
    console.log();
    console.log('| server | way in | queries/s | p50 ms | p99 ms | client CPU µs/q | server CPU µs/q | Dormouse\'s busiest thread | / pooled (same server) | / PostgreSQL new TCP | errors |');
    console.log('|---|---|---|---|---|---|---|---|---|---|---|');
    const qpsOf = (way, server) => { const x = conc.find((c) => c.way === way && c.server === server); return x ? x.qps : NaN; };
    for (const c of conc) {
        console.log(`| ${SERVERS[c.server].label} | ${WAY_LABEL[c.way]} | ${f0(c.qps)} | ${f2(c.p50)} | ${f2(c.p99)} | ${f0(c.clientUs)} | ` +
            `${f0(c.serverUs)} | ${c.server === 'pg' ? '' : f0(c.busiest) + '%'} | ${c.way === 'pooled' ? '1' : ratio(c.qps, qpsOf('pooled', c.server))} | ${ratio(c.qps, qpsOf('tcp', 'pg'))} | ${c.errors} |`);
        if (c.firstError) notes.push(`concurrent, ${SERVERS[c.server].label}, ${WAY_LABEL[c.way]}: ${c.errors} errors, the first: ${c.firstError}`);
    }
}
console.log();
console.log(`Dormouse after the warm-up / at the end (this process's connections closed): VmRSS ${dm0.VmRSS} / ${dm1.VmRSS} KiB, ` +
    `threads ${dm0.Threads} / ${dm1.Threads}, open descriptors ${fdTotal(dm0.fds)} / ${fdTotal(dm1.fds)} ` +
    `(after the warm-up: ${fdText(dm0.fds)}; at the end: ${fdText(dm1.fds)})`);
if (notes.length) {
    console.log();
    for (const n of notes) console.log(`- ${n}`);
}
process.exit(0); // undici keeps its idle keep-alive sockets open otherwise
