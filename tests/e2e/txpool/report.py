"""Shared by txpool.py and abuse.py: one line per check on stdout, which
test_txpool.sh and test_txpool_abuse.sh turn into their PASS/FAIL lines:

    PASS<TAB>name
    FAIL<TAB>name<TAB>detail
    VALUE<TAB>name<TAB>value   (a measurement, printed as info)
"""

_fails = 0


def _clean(s):
    return str(s).replace("\t", " ").replace("\r", "").replace("\n", " | ")


def check(ok, name, detail=""):
    """Reports one check; returns ok."""
    global _fails
    if ok:
        print("PASS\t%s" % _clean(name), flush=True)
    else:
        _fails += 1
        print("FAIL\t%s\t%s" % (_clean(name), _clean(detail)[:1500]), flush=True)
    return ok


def value(name, v):
    print("VALUE\t%s\t%s" % (_clean(name), _clean(v)), flush=True)


def failures():
    return _fails
