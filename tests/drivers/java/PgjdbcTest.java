// PgjdbcTest: the driver-matrix checks for pgjdbc (the PostgreSQL JDBC driver).
//
//     javac -cp /usr/share/java/postgresql.jar -d OUT PgjdbcTest.java
//     java -cp OUT:/usr/share/java/postgresql.jar PgjdbcTest HOST PORT DBNAME USER
//
// pgjdbc runs every statement through the extended query protocol
// (preferQueryMode=extended, the default).  The value round trip runs twice:
// "text" with prepareThreshold=0 (unnamed statements, text results) and
// "binary" with prepareThreshold=-1 (named server-side statements from the
// first execution, binary transfer of the types pgjdbc knows in binary).
// Then a statement reused with prepareThreshold=1, transactions and a
// savepoint, errors with their SQLSTATEs and recovery on the same connection,
// a 1000-row batch insert read back with a fetch size (portal suspension),
// and a clean disconnect.
//
// Prints one "PASS: pgjdbc: CHECK" or "FAIL: pgjdbc: CHECK" line per check
// (details of a failure follow on lines starting with "    | ") and exits 1 if
// any check failed.  A failed check rolls back, or reconnects if the
// connection is gone, so that the later checks still run and report.

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.sql.Types;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Properties;
import java.util.UUID;
import org.postgresql.PGResultSetMetaData;
import org.postgresql.util.PGobject;

public class PgjdbcTest {
    static final String DRIVER = "pgjdbc";

    // name, DDL type, the type name pgjdbc reports, the class getObject returns
    static final Object[][] COLUMNS = {
        {"b", "boolean", "bool", Boolean.class},
        {"i2", "smallint", "int2", Integer.class},
        {"i4", "integer", "int4", Integer.class},
        {"i8", "bigint", "int8", Long.class},
        {"f4", "real", "float4", Float.class},
        {"f8", "double precision", "float8", Double.class},
        {"n", "numeric", "numeric", BigDecimal.class},
        {"t", "text", "text", String.class},
        {"vc", "varchar(20)", "varchar", String.class},
        {"c", "char(5)", "bpchar", String.class},
        {"bt", "bytea", "bytea", byte[].class},
        {"d", "date", "date", LocalDate.class},
        {"tm", "time", "time", LocalTime.class},
        {"ts", "timestamp", "timestamp", LocalDateTime.class},
        {"tz", "timestamp with time zone", "timestamptz", OffsetDateTime.class},
        {"u", "uuid", "uuid", UUID.class},
        {"j", "json", "json", PGobject.class},
        {"jb", "jsonb", "jsonb", PGobject.class},
    };
    static final int NCOLS = COLUMNS.length + 1; // with id

    static final String UNICODE = "héllo wörld ☃ 日本語 🐭";
    static final String QUOTED = "it's \"quoted\" \\ tab\t newline\n end";

    static byte[] allBytes() {
        byte[] b = new byte[256];
        for (int i = 0; i < 256; i++) b[i] = (byte) i;
        return b;
    }

    static PGobject json(String type, String value) {
        PGobject o = new PGobject();
        o.setType(type);
        try {
            o.setValue(value);
        } catch (SQLException e) {
            throw new RuntimeException(e);
        }
        return o;
    }

    // Rows as bound; char(5) comes back blank-padded and json/jsonb as their
    // server text (json as sent, jsonb normalized): see expected().
    static Object[][] rows() {
        return new Object[][] {
            {1, true, (short) 32767, 2147483647, 9223372036854775807L, 1.5f, 3.141592653589793,
                new BigDecimal("12345678901234567890.123456789"), UNICODE, "varchar ✓", "ab",
                new byte[] {0, (byte) 0xff, 1, (byte) 0x80, 0}, LocalDate.of(2024, 2, 29),
                LocalTime.of(13, 45, 30, 123456000), LocalDateTime.of(2024, 2, 29, 13, 45, 30, 123456000),
                OffsetDateTime.of(2024, 2, 29, 13, 45, 30, 123456000, ZoneOffset.UTC),
                UUID.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
                json("json", "{\"a\": [1, 2, {\"b\": null}], \"s\": \"☃\"}"),
                json("jsonb", "{\"t\": true, \"k\": \"v\", \"n\": 1.5}")},
            {2, false, (short) -32768, -2147483648, -9223372036854775808L, -0.5f, -1e300,
                new BigDecimal("-98765.4321"), QUOTED, "x", "abcde", allBytes(), LocalDate.of(1999, 12, 31),
                LocalTime.of(23, 59, 59, 999999000), LocalDateTime.of(1999, 12, 31, 23, 59, 59, 999999000),
                OffsetDateTime.of(1999, 12, 31, 18, 0, 0, 0, ZoneOffset.ofHours(-5)),
                UUID.fromString("ffffffff-ffff-ffff-ffff-ffffffffffff"), json("json", "[]"),
                json("jsonb", "{\"unicode\": \"日本\", \"nested\": {\"arr\": []}}")},
            {3, false, (short) 0, 0, 0L, 0.0f, 0.0, new BigDecimal("0"), "", "", "", new byte[0],
                LocalDate.of(2000, 1, 1), LocalTime.of(0, 0), LocalDateTime.of(2000, 1, 1, 0, 0),
                OffsetDateTime.of(2000, 1, 1, 0, 0, 0, 0, ZoneOffset.UTC), new UUID(0, 0), json("json", "{}"),
                json("jsonb", "[]")},
            {4, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
                null, null},
        };
    }

    static Object[][] expected() {
        Object[][] rows = rows();
        for (Object[] r : rows) {
            if (r[10] != null) r[10] = String.format("%-5s", r[10]);
            if (r[2] != null) r[2] = ((Short) r[2]).intValue(); // int2 reads back as Integer
        }
        rows[0][18] = json("jsonb", "{\"k\": \"v\", \"n\": 1.5, \"t\": true}");
        rows[1][18] = json("jsonb", "{\"nested\": {\"arr\": []}, \"unicode\": \"日本\"}");
        return rows;
    }

    static final int[] NULL_TYPES = {Types.INTEGER, Types.BOOLEAN, Types.SMALLINT, Types.INTEGER, Types.BIGINT,
        Types.REAL, Types.DOUBLE, Types.NUMERIC, Types.VARCHAR, Types.VARCHAR, Types.CHAR, Types.BINARY, Types.DATE,
        Types.TIME, Types.TIMESTAMP, Types.TIMESTAMP_WITH_TIMEZONE, Types.OTHER, Types.OTHER, Types.OTHER};

    static class CheckFailed extends Exception {
        private static final long serialVersionUID = 1L;

        CheckFailed(String m) {
            super(m);
        }
    }

    interface Check {
        void run() throws Exception;
    }

    final String url;
    final Properties props = new Properties();
    Connection conn;
    int checks, failures;
    final String base;

    PgjdbcTest(String host, String port, String db, String user) {
        url = "jdbc:postgresql://" + host + ":" + port + "/" + db;
        props.setProperty("user", user);
        props.setProperty("connectTimeout", "10");
        props.setProperty("socketTimeout", "30");
        props.setProperty("sslmode", "disable");
        props.setProperty("gssEncMode", "disable");
        base = "drv_pgjdbc_" + ProcessHandle.current().pid() + "_" + (System.currentTimeMillis() % 100000000);
    }

    Connection open(String prepareThreshold) throws SQLException {
        Properties p = new Properties();
        p.putAll(props);
        p.setProperty("preferQueryMode", "extended");
        p.setProperty("prepareThreshold", prepareThreshold);
        return DriverManager.getConnection(url, p);
    }

    void check(String name, Check c) {
        checks++;
        try {
            c.run();
            System.out.println("PASS: " + DRIVER + ": " + name);
        } catch (Exception e) {
            failures++;
            System.out.println("FAIL: " + DRIVER + ": " + name);
            String detail = e.getClass().getSimpleName() + ": " + e.getMessage();
            if (e instanceof SQLException && ((SQLException) e).getSQLState() != null)
                detail += " [SQLSTATE " + ((SQLException) e).getSQLState() + "]";
            if (!(e instanceof CheckFailed)) {
                for (StackTraceElement s : e.getStackTrace()) {
                    if (s.getClassName().equals("PgjdbcTest")) {
                        detail += "\n  at " + s;
                        break;
                    }
                }
            }
            for (String line : detail.split("\n")) System.out.println("    | " + line);
            recover();
        }
        System.out.flush();
    }

    void recover() {
        try {
            if (conn != null && conn.isValid(5)) {
                if (!conn.getAutoCommit()) conn.rollback();
                conn.setAutoCommit(true);
                return;
            }
        } catch (SQLException e) {
            // fall through: reconnect
        }
        try {
            if (conn != null) conn.close();
        } catch (SQLException e) {
            // already gone
        }
        try {
            conn = open("5");
        } catch (SQLException e) {
            conn = null;
        }
    }

    static String show(Object v) {
        if (v instanceof byte[]) {
            StringBuilder sb = new StringBuilder("bytes<");
            for (byte b : (byte[]) v) sb.append(String.format("%02x", b));
            return sb.append(">").toString();
        }
        if (v instanceof PGobject) return ((PGobject) v).getType() + "<" + ((PGobject) v).getValue() + ">";
        return v == null ? "null" : v.getClass().getSimpleName() + "<" + v + ">";
    }

    static boolean same(Object a, Object b) {
        if (a == null || b == null) return a == b;
        if (a instanceof byte[] && b instanceof byte[]) return Arrays.equals((byte[]) a, (byte[]) b);
        if (a instanceof BigDecimal && b instanceof BigDecimal) return a.toString().equals(b.toString());
        if (a instanceof OffsetDateTime && b instanceof OffsetDateTime)
            return ((OffsetDateTime) a).isEqual((OffsetDateTime) b);
        if (a instanceof PGobject && b instanceof PGobject)
            return Objects.equals(((PGobject) a).getType(), ((PGobject) b).getType())
                && Objects.equals(((PGobject) a).getValue(), ((PGobject) b).getValue());
        return a.getClass() == b.getClass() && a.equals(b);
    }

    static String names() {
        StringBuilder sb = new StringBuilder("id");
        for (Object[] c : COLUMNS) sb.append(", ").append(c[0]);
        return sb.toString();
    }

    static Object read(ResultSet rs, int i) throws SQLException {
        Object[] col = COLUMNS[i - 2];
        Class<?> cls = (Class<?>) col[3];
        if (cls == LocalDate.class || cls == LocalTime.class || cls == LocalDateTime.class
            || cls == OffsetDateTime.class)
            return rs.getObject(i, cls);
        return rs.getObject(i);
    }

    // ---- the checks ----

    void create(Connection c, String table) throws SQLException {
        StringBuilder ddl = new StringBuilder("create table " + table + " (id integer primary key");
        for (Object[] col : COLUMNS) ddl.append(", ").append(col[0]).append(' ').append(col[1]);
        ddl.append(")");
        try (Statement st = c.createStatement()) {
            st.execute(ddl.toString());
        }
    }

    void insert(Connection c, String table) throws Exception {
        String marks = String.join(", ", java.util.Collections.nCopies(NCOLS, "?"));
        try (PreparedStatement ps = c.prepareStatement("insert into " + table + " (" + names() + ") values (" + marks + ")")) {
            for (Object[] row : rows()) {
                for (int i = 0; i < NCOLS; i++) {
                    if (row[i] == null) ps.setNull(i + 1, NULL_TYPES[i]);
                    else ps.setObject(i + 1, row[i]);
                }
                int n = ps.executeUpdate();
                if (n != 1) throw new CheckFailed("update count " + n + " for id " + row[0]);
            }
        }
    }

    void select(Connection c, String table, boolean binary) throws Exception {
        Object[][] want = expected();
        try (PreparedStatement ps = c.prepareStatement("select " + names() + " from " + table + " where id >= ? order by id")) {
            ps.setInt(1, 1);
            try (ResultSet rs = ps.executeQuery()) {
                PGResultSetMetaData md = rs.getMetaData().unwrap(PGResultSetMetaData.class);
                int binaryColumns = 0;
                for (int i = 1; i <= NCOLS; i++) binaryColumns += md.getFormat(i);
                if (binary && binaryColumns == 0) throw new CheckFailed("no column came in binary");
                if (!binary && binaryColumns != 0) throw new CheckFailed(binaryColumns + " columns came in binary");
                int r = 0;
                while (rs.next()) {
                    if (r >= want.length) throw new CheckFailed("more than " + want.length + " rows");
                    if (rs.getInt(1) != (Integer) want[r][0]) throw new CheckFailed("row " + r + " has id " + rs.getInt(1));
                    for (int i = 2; i <= NCOLS; i++) {
                        Object got = read(rs, i);
                        if (!same(want[r][i - 1], got))
                            throw new CheckFailed("row id=" + want[r][0] + " column " + COLUMNS[i - 2][0] + ": expected "
                                + show(want[r][i - 1]) + ", got " + show(got));
                        Class<?> cls = (Class<?>) COLUMNS[i - 2][3];
                        if (got != null && !cls.isInstance(got))
                            throw new CheckFailed("column " + COLUMNS[i - 2][0] + ": " + got.getClass().getName());
                    }
                    r++;
                }
                if (r != want.length) throw new CheckFailed(r + " rows, expected " + want.length);
            }
        }
    }

    void types(Connection c, String table) throws Exception {
        try (PreparedStatement ps = c.prepareStatement("select " + names() + " from " + table + " where id = ?")) {
            ps.setInt(1, 1);
            try (ResultSet rs = ps.executeQuery()) {
                ResultSetMetaData md = rs.getMetaData();
                List<String> got = new ArrayList<>(), want = new ArrayList<>();
                want.add("id:int4");
                for (Object[] col : COLUMNS) want.add(col[0] + ":" + col[2]);
                for (int i = 1; i <= md.getColumnCount(); i++) got.add(md.getColumnName(i) + ":" + md.getColumnTypeName(i));
                if (!got.equals(want)) throw new CheckFailed("columns: expected " + want + ", got " + got);
            }
        }
    }

    long count(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    void update(Connection c, String sql, Object... args) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < args.length; i++) ps.setObject(i + 1, args[i]);
            ps.executeUpdate();
        }
    }

    void expectError(String sql, Object arg, String sqlstate) throws Exception {
        try (PreparedStatement ps = conn.prepareStatement(sql)) {
            ps.setObject(1, arg);
            ps.execute();
        } catch (SQLException e) {
            if (!sqlstate.equals(e.getSQLState()))
                throw new CheckFailed(sql + ": SQLSTATE " + e.getSQLState() + ", expected " + sqlstate + ": " + e.getMessage());
            long got = count(conn, "select 42");
            if (got != 42) throw new CheckFailed("the error was right, but then select 42 answered " + got);
            return;
        }
        throw new CheckFailed(sql + ": no error, expected " + sqlstate);
    }

    void run() {
        String tx = base + "_tx", big = base + "_big";
        check("connect and select 1", () -> {
            conn = open("5");
            if (count(conn, "select 1") != 1) throw new CheckFailed("select 1");
        });
        if (conn == null) return;
        for (String mode : new String[] {"text", "binary"}) {
            String table = base + "_" + mode;
            String threshold = mode.equals("text") ? "0" : "-1";
            check(mode + ": create table with every supported type (PostgreSQL DDL)", () -> {
                try (Connection c = open(threshold)) {
                    create(c, table);
                }
            });
            check(mode + ": insert rows with bound parameters (prepareThreshold=" + threshold + ")", () -> {
                try (Connection c = open(threshold)) {
                    insert(c, table);
                }
            });
            check(mode + ": select values back (and their Java classes)", () -> {
                try (Connection c = open(threshold)) {
                    select(c, table, mode.equals("binary"));
                }
            });
            check(mode + ": column names and type names (ResultSetMetaData)", () -> {
                try (Connection c = open(threshold)) {
                    types(c, table);
                }
            });
        }
        check("statement reused with prepareThreshold=1, WHERE on int8, text, bytea, uuid", () -> {
            try (Connection c = open("1");
                 PreparedStatement ps = c.prepareStatement(
                     "select id, t from " + base + "_text where i8 = ? and t = ? and bt = ? and u = ?")) {
                for (int i = 0; i < 3; i++) {
                    ps.setLong(1, 9223372036854775807L);
                    ps.setString(2, UNICODE);
                    ps.setBytes(3, new byte[] {0, (byte) 0xff, 1, (byte) 0x80, 0});
                    ps.setObject(4, UUID.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
                    try (ResultSet rs = ps.executeQuery()) {
                        if (!rs.next() || rs.getInt(1) != 1 || !UNICODE.equals(rs.getString(2)) || rs.next())
                            throw new CheckFailed("execution " + (i + 1) + ": wrong rows");
                    }
                }
                if (count(c, "select count(*) from " + base + "_text where b is null and i4 is null") != 1)
                    throw new CheckFailed("is null count");
            }
        });
        check("transaction rollback: the row is gone", () -> {
            try (Statement st = conn.createStatement()) {
                st.execute("create table " + tx + " (id integer primary key, v text not null)");
            }
            conn.setAutoCommit(false);
            update(conn, "insert into " + tx + " values (?, ?)", 1, "rolled back");
            conn.rollback();
            conn.setAutoCommit(true);
            long n = count(conn, "select count(*) from " + tx + " where id = 1");
            if (n != 0) throw new CheckFailed("the rolled back row is still there (" + n + ")");
        });
        check("transaction commit: the row is there after reconnecting", () -> {
            conn.setAutoCommit(false);
            update(conn, "insert into " + tx + " values (?, ?)", 1, "committed");
            conn.commit();
            conn.close();
            conn = open("5");
            try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery("select v from " + tx + " where id = 1")) {
                if (!rs.next() || !"committed".equals(rs.getString(1))) throw new CheckFailed("committed row missing");
            }
        });
        check("savepoint: rollback(savepoint), releaseSavepoint, commit", () -> {
            conn.setAutoCommit(false);
            update(conn, "insert into " + tx + " values (?, ?)", 2, "kept");
            Savepoint sp = conn.setSavepoint("sp1");
            update(conn, "insert into " + tx + " values (?, ?)", 3, "undone");
            conn.rollback(sp);
            Savepoint sp2 = conn.setSavepoint();
            update(conn, "insert into " + tx + " values (?, ?)", 4, "released");
            conn.releaseSavepoint(sp2);
            conn.commit();
            conn.setAutoCommit(true);
            List<Integer> ids = new ArrayList<>();
            try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery("select id from " + tx + " order by id")) {
                while (rs.next()) ids.add(rs.getInt(1));
            }
            if (!ids.equals(List.of(1, 2, 4))) throw new CheckFailed("ids after the savepoint rollback: " + ids);
        });
        check("unique violation: 23505 (SQLException.getSQLState), then the connection works",
            () -> expectError("insert into " + tx + " values (?, 'duplicate')", 1, "23505"));
        check("syntax error: 42601 (SQLException.getSQLState), then the connection works",
            () -> expectError("selec ?", 1, "42601"));
        check("error in a transaction: 22012, then 25P02 until rollback", () -> {
            conn.setAutoCommit(false);
            update(conn, "insert into " + tx + " values (?, ?)", 5, "in a failed block");
            String[][] steps = {{"select 1/0", "22012"}, {"select 1", "25P02"}};
            for (String[] s : steps) {
                try {
                    count(conn, s[0]);
                    throw new CheckFailed(s[0] + ": no error, expected " + s[1]);
                } catch (SQLException e) {
                    if (!s[1].equals(e.getSQLState()))
                        throw new CheckFailed(s[0] + ": " + e.getSQLState() + " (" + e.getMessage() + "), expected " + s[1]);
                }
            }
            conn.rollback();
            conn.setAutoCommit(true);
            if (count(conn, "select count(*) from " + tx + " where id = 5") != 0)
                throw new CheckFailed("the failed block's insert survived the rollback");
        });
        check("1000 rows: batch insert in a transaction, read back with fetchSize 100", () -> {
            conn.setAutoCommit(false);
            try (Statement st = conn.createStatement()) {
                st.execute("create table " + big + " (id bigint primary key, payload text)");
            }
            try (PreparedStatement ps = conn.prepareStatement("insert into " + big + " values (?, ?)")) {
                for (int i = 1; i <= 1000; i++) {
                    ps.setLong(1, i);
                    ps.setString(2, "row " + i + " of 1000");
                    ps.addBatch();
                }
                int[] counts = ps.executeBatch();
                if (counts.length != 1000) throw new CheckFailed("batch counts: " + counts.length);
            }
            conn.commit();
            try (PreparedStatement ps = conn.prepareStatement("select id, payload from " + big + " order by id")) {
                ps.setFetchSize(100); // a portal read 100 rows at a time (needs a transaction)
                try (ResultSet rs = ps.executeQuery()) {
                    int i = 0;
                    while (rs.next()) {
                        i++;
                        if (rs.getLong(1) != i || !("row " + i + " of 1000").equals(rs.getString(2)))
                            throw new CheckFailed("row " + i + ": " + rs.getLong(1) + ", " + rs.getString(2));
                    }
                    if (i != 1000) throw new CheckFailed(i + " rows");
                }
            }
            conn.commit();
            conn.setAutoCommit(true);
        });
        check("disconnect (dropping the tables)", () -> {
            try (Statement st = conn.createStatement()) {
                for (String t : new String[] {base + "_text", base + "_binary", tx, big})
                    st.execute("drop table if exists " + t);
            }
            conn.close();
            if (!conn.isClosed()) throw new CheckFailed("connection not closed");
            conn = null;
        });
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: java PgjdbcTest HOST PORT DBNAME USER");
            System.exit(2);
        }
        PgjdbcTest t = new PgjdbcTest(args[0], args[1], args[2], args[3]);
        t.run();
        if (t.conn != null) {
            try {
                t.conn.close();
            } catch (SQLException e) {
                // closing after a failure
            }
        }
        System.out.println(DRIVER + " " + org.postgresql.Driver.class.getPackage().getImplementationVersion() + " (java "
            + System.getProperty("java.version") + "): " + (t.checks - t.failures) + " of " + t.checks + " checks passed");
        System.exit(t.failures > 0 ? 1 : 0);
    }
}
