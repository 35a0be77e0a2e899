// PreparedStress: many pgjdbc clients, the same prepared-statement names.
//
//     java -cp OUT:/usr/share/java/postgresql.jar PreparedStress HOST PORT DBNAME USER [CLIENTS [ROUNDS]]
//
// CLIENTS connections (default 8, one thread each) of one database, all open
// at once, executing the statements of tests/drivers/python/stress_common.py
// for ROUNDS rounds (default 15) in autocommit, inside transactions and
// around an error, after two SETs (application_name, work_mem) that every
// round reads back.  pgjdbc names its server-side statements S_1, S_2, ... per
// connection, so every client uses the same names for different texts: even
// clients with prepareThreshold=1 (text results), odd ones with -1 (binary
// results).  The main statements stay open for the whole run; six more are
// opened and closed each round with preparedStatementCacheQueries=4, so that
// pgjdbc evicts and Closes statements.  Meant for a transaction pooler with
// a pool far smaller than CLIENTS; against PostgreSQL itself every check
// passes.  Prints one "PASS: pgjdbc-stress: CHECK" / "FAIL: ..." line per
// check over all clients (up to five distinct failures on "    | " lines)
// and exits 1 if any check failed.

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

public class PreparedStress {
    static final String DRIVER = "pgjdbc-stress";
    static final String[][] CHECKS = {
        {"connect", "%d clients connected at once"},
        {"shared", "same statement name and text in every client, autocommit executions"},
        {"mine", "same statement name, another text and other types in each client, autocommit"},
        {"only", "a statement name of its own per client (two parameters), autocommit"},
        {"tx", "statements prepared earlier, executed inside explicit transactions"},
        {"error", "error in a transaction (22012), rollback, then the statements still work"},
        {"session", "SET application_name and work_mem at connect, seen in every round (a statement named alike everywhere)"},
        {"evict", "six more statements per round through the driver's statement cache "
            + "(preparedStatementCacheQueries=4: evicted ones closed with Close)"},
        {"names", "no 26000 (prepared statement does not exist) or 42P05 (already exists) error"},
        {"close", "disconnect"},
    };
    static final String SHARED = "select ?::int4 * 2 as v";
    static final String DIV = "select 100 / ?::int4 as q";
    // After the client's SET application_name = 'dm-stress-K' and SET work_mem = '(64+K)MB'.
    static final String APPNAME = "select current_setting('application_name') || ' ' || current_setting('work_mem') as a";
    static final int EXTRAS = 6;

    static final Map<String, Integer> ok = new LinkedHashMap<>();
    static final Map<String, Integer> nbad = new LinkedHashMap<>();
    static final Map<String, List<String>> bad = new LinkedHashMap<>();

    static synchronized void good(String check) {
        ok.merge(check, 1, Integer::sum);
    }

    static synchronized void fail(String check, int k, String detail, String sqlstate) {
        detail = ("client " + k + ": " + detail).replace('\n', ' ');
        if (sqlstate != null) detail += " [SQLSTATE " + sqlstate + "]";
        if (detail.length() > 300) detail = detail.substring(0, 297) + "...";
        nbad.merge(check, 1, Integer::sum);
        List<String> l = bad.get(check);
        if (l.size() < 5 && !l.contains(detail)) l.add(detail);
        if ("26000".equals(sqlstate) || "42P05".equals(sqlstate)) {
            nbad.merge("names", 1, Integer::sum);
            if (bad.get("names").size() < 5) bad.get("names").add(detail + " (in: " + check + ")");
        }
    }

    static void fail(String check, int k, Exception e) {
        String state = e instanceof SQLException ? ((SQLException) e).getSQLState() : null;
        fail(check, k, e.getClass().getSimpleName() + ": " + e.getMessage(), state);
    }

    static List<Object> row(PreparedStatement ps, Object... params) throws SQLException {
        for (int i = 0; i < params.length; i++) ps.setObject(i + 1, params[i]);
        try (ResultSet rs = ps.executeQuery()) {
            if (!rs.next()) return null;
            List<Object> r = new ArrayList<>();
            for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) r.add(rs.getObject(i));
            return r;
        }
    }

    static boolean op(String check, int k, PreparedStatement ps, List<Object> want, Object... params) {
        List<Object> got;
        try {
            got = row(ps, params);
        } catch (SQLException e) {
            fail(check, k, e);
            return false;
        }
        if (!want.equals(got)) {
            fail(check, k, "expected " + want + ", got " + got, null);
            return false;
        }
        good(check);
        return true;
    }

    final int k;
    final Connection c;

    PreparedStress(int k, Connection c) {
        this.k = k;
        this.c = c;
    }

    void run(int rounds) {
        boolean even = k % 2 == 0;
        String msql = even ? "select ?::int4 + " + (k * 1000) + " as v, 'client " + k + "' as who"
                           : "select 'client " + k + ": ' || ?::text as who, " + k + "::int8 as k";
        try (PreparedStatement shared = c.prepareStatement(SHARED);
             PreparedStatement mine = c.prepareStatement(msql);
             PreparedStatement only = c.prepareStatement("select ?::int8 + ?::int8 as s, " + k + " as k");
             PreparedStatement div = c.prepareStatement(DIV);
             PreparedStatement appname = c.prepareStatement(APPNAME)) {
            for (int i = 0; i < rounds; i++) {
                int x = k * 100 + i;
                op("shared", k, shared, Arrays.asList(2 * x), x);
                op("mine", k, mine, mineWant(x), mineArg(x));
                op("only", k, only, Arrays.asList((long) (x + k), k), (long) x, (long) k);

                try {
                    c.setAutoCommit(false);
                    boolean g = op("tx", k, shared, Arrays.asList(2 * (x + 1)), x + 1);
                    g = g && op("tx", k, mine, mineWant(x + 1), mineArg(x + 1));
                    g = g && op("tx", k, only, Arrays.asList((long) (x + 1), k), (long) x, 1L);
                    g = g && op("tx", k, mine, mineWant(x + 2), mineArg(x + 2));
                    if (g) c.commit();
                    else c.rollback();
                    c.setAutoCommit(true);
                } catch (SQLException e) {
                    fail("tx", k, e);
                    c.rollback();
                    c.setAutoCommit(true);
                }

                try {
                    c.setAutoCommit(false);
                    op("error", k, shared, Arrays.asList(2 * x), x);
                    try {
                        row(div, 0);
                        fail("error", k, "100 / 0: no error", null);
                    } catch (SQLException e) {
                        if ("22012".equals(e.getSQLState())) good("error");
                        else fail("error", k, e);
                    }
                    c.rollback();
                    c.setAutoCommit(true);
                } catch (SQLException e) {
                    fail("error", k, e);
                    c.rollback();
                    c.setAutoCommit(true);
                }
                op("error", k, div, Arrays.asList(25), 4);
                op("error", k, mine, mineWant(x), mineArg(x));

                op("session", k, appname, Arrays.asList("dm-stress-" + k + " " + (64 + k) + "MB"));

                for (int j = 0; j < EXTRAS; j++) {
                    try (PreparedStatement ps = c.prepareStatement("select ?::int4 + " + j + " as v, 'extra' as e")) {
                        op("evict", k, ps, Arrays.asList(x + j, "extra"), x);
                    }
                }
            }
        } catch (SQLException e) {
            fail("close", k, e);
        }
    }

    List<Object> mineWant(int x) {
        return k % 2 == 0 ? Arrays.asList(x + k * 1000, "client " + k) : Arrays.asList("client " + k + ": " + x, (long) k);
    }

    Object mineArg(int x) {
        return k % 2 == 0 ? (Object) x : (Object) String.valueOf(x);
    }

    static boolean finished;

    // Prints the check lines and the summary once (the program or its
    // watchdog, whichever comes first) and exits.
    static synchronized void finish(int clients, int rounds) {
        if (finished) return;
        finished = true;
        int checks = 0, failures = 0;
        int executed = 0;
        for (String c : new String[] {"shared", "mine", "only", "tx", "error", "session", "evict"}) executed += ok.get(c);
        ok.put("names", executed);
        for (String[] c : CHECKS) {
            checks++;
            String name = String.format(c[1], clients);
            if (nbad.get(c[0]) == 0 && ok.get(c[0]) > 0) {
                System.out.println("PASS: " + DRIVER + ": " + name);
                continue;
            }
            failures++;
            System.out.println("FAIL: " + DRIVER + ": " + name);
            for (String d : bad.get(c[0])) System.out.println("    | " + d);
            System.out.println("    | " + ok.get(c[0]) + " executions correct, " + nbad.get(c[0]) + " wrong or failed");
        }
        System.out.println(DRIVER + " (pgjdbc " + org.postgresql.util.DriverInfo.DRIVER_VERSION + ", java "
            + System.getProperty("java.version") + ", " + clients + " clients x " + rounds + " rounds): "
            + (checks - failures) + " of " + checks + " checks passed");
        System.exit(failures > 0 ? 1 : 0);
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 4 || args.length > 6) {
            System.err.println("usage: PreparedStress HOST PORT DBNAME USER [CLIENTS [ROUNDS]]");
            System.exit(2);
        }
        int clients = args.length > 4 ? Integer.parseInt(args[4]) : 8;
        int rounds = args.length > 5 ? Integer.parseInt(args[5]) : 15;
        for (String[] c : CHECKS) {
            ok.put(c[0], 0);
            nbad.put(c[0], 0);
            bad.put(c[0], new ArrayList<>());
        }
        // A hung pooler must not outlive the test's own time limit: report what we have.
        String dl = System.getenv("DM_STRESS_DEADLINE");
        long deadlineMs = (long) (Double.parseDouble(dl == null ? "60" : dl) * 1000);
        Thread watchdog = new Thread(() -> {
            try {
                Thread.sleep(deadlineMs);
            } catch (InterruptedException e) {
                return;
            }
            fail("close", -1, "the program did not finish within " + (deadlineMs / 1000.0) + " s", null);
            finish(clients, rounds);
        });
        watchdog.setDaemon(true);
        watchdog.start();
        String url = "jdbc:postgresql://" + args[0] + ":" + args[1] + "/" + args[2];
        List<PreparedStress> runs = new ArrayList<>();
        for (int k = 0; k < clients; k++) {
            Properties p = new Properties();
            p.setProperty("user", args[3]);
            p.setProperty("connectTimeout", "10");
            p.setProperty("socketTimeout", "30");
            p.setProperty("sslmode", "disable");
            p.setProperty("gssEncMode", "disable");
            p.setProperty("preferQueryMode", "extended");
            p.setProperty("prepareThreshold", k % 2 == 0 ? "1" : "-1");
            p.setProperty("preparedStatementCacheQueries", "4");
            try {
                Connection c = DriverManager.getConnection(url, p);
                try (java.sql.Statement st = c.createStatement()) {
                    st.execute("set application_name = 'dm-stress-" + k + "'");
                    st.execute("set work_mem = '" + (64 + k) + "MB'");
                }
                runs.add(new PreparedStress(k, c));
                good("connect");
            } catch (SQLException e) {
                fail("connect", k, e);
            }
        }
        List<Thread> threads = new ArrayList<>();
        for (PreparedStress r : runs) {
            Thread t = new Thread(() -> r.run(rounds));
            t.setDaemon(true);
            t.start();
            threads.add(t);
        }
        for (Thread t : threads) t.join();
        for (PreparedStress r : runs) {
            try {
                r.c.close();
                good("close");
            } catch (SQLException e) {
                fail("close", r.k, e);
            }
        }
        finish(clients, rounds);
    }
}
