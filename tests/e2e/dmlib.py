"""dmlib: what the e2e tests' inline Python scripts share (lib.sh exports
PYTHONPATH to this directory).  Checks print "PASS: name" or "FAIL: name
(detail)", which relay_checks in lib.sh turns into the test's results.
"""
import threading
import time

import psycopg


def report(ok, name, detail=""):
    print(("PASS: " if ok else "FAIL: ") + name + (f" ({detail})" if detail and not ok else ""))


def connect(port, db, user):
    return psycopg.connect(f"host=127.0.0.1 port={port} dbname={db} user={user}", autocommit=True)


class Console:
    """The admin console (simple queries only: ClientCursor)."""

    def __init__(self, port, user="admin"):
        self.conn = psycopg.connect(f"host=127.0.0.1 port={port} dbname=dormouse user={user}",
                                    autocommit=True, cursor_factory=psycopg.ClientCursor)

    def execute(self, sql):
        return self.conn.execute(sql)

    def rows(self, show):
        cur = self.conn.execute(show)
        cols = [d.name for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def db(self, name):
        """Its SHOW DATABASES row, as a dict (None: not listed)."""
        for r in self.rows("SHOW DATABASES"):
            if r["name"] == name:
                return r
        return None

    def wait_state(self, name, want, timeout=15):
        wait_for(lambda: self.db(name)["state"] == want, timeout)
        return self.db(name)


def wait_for(pred, timeout=15, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def storm(n, open_conn, query, want, timeout=120):
    """n clients connect, wait for each other, run query at once; the errors
    (a wrong answer counts as one)."""
    errors = []
    barrier = threading.Barrier(n)

    def client():
        try:
            c = open_conn()
            barrier.wait(timeout)
            got = c.execute(query).fetchone()[0]
            if got != want:
                errors.append(f"got {got!r}")
            c.close()
        except Exception as e:  # noqa: BLE001 (any failure is reported)
            errors.append(repr(e))

    ts = [threading.Thread(target=client) for _ in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout)
    return errors


def dom_text(dom):
    """What a page shows, from the DOM headless Chromium dumped: (text,
    attrs).  text maps "ID" to the text of the element with that id, and
    "ID.CLASS" to that of a classed element inside it (a table cell of a
    row: its last class); attrs maps "body" and every id to the element's
    attributes."""
    import html.parser

    class P(html.parser.HTMLParser):
        def __init__(self):
            super().__init__()
            self.stack, self.text, self.attrs = [], {}, {}

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "body":
                self.attrs["body"] = a
            if a.get("id"):
                self.attrs[a["id"]] = a
            if tag not in ("meta", "br", "img", "input", "link"):
                self.stack.append(a)

        def handle_endtag(self, tag):
            if self.stack:
                self.stack.pop()

        def handle_data(self, data):
            if not self.stack:
                return
            inner = self.stack[-1]
            if inner.get("id"):
                key = inner["id"]
            else:
                ids = [a["id"] for a in self.stack if a.get("id")]
                if not ids or not inner.get("class"):
                    return
                key = ids[-1] + "." + inner["class"].split()[-1]
            self.text[key] = self.text.get(key, "") + data

    p = P()
    p.feed(dom)
    return p.text, p.attrs
