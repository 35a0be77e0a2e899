/*
 * sqlite_numeric.c: exact decimal numbers kept as text (see sqlite_numeric.h).
 *
 * A value is held as its significant digits and the decimal weight of the
 * first one (0.d1d2... x 10^weight), so comparing two values is comparing
 * signs, then weights, then digit strings, and printing one at a scale is
 * choosing which digits fall on each side of the point and rounding the
 * first digit dropped.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sqlite_numeric.h"

static bool sqlite_decimal_special(const char *s, size_t n, bool signed_, sqlite_decimal *d)
{
    static const struct {
        const char *text;
        sqlite_decimal_kind kind;
    } specials[] = {
        {"nan", SQLITE_DECIMAL_NAN},
        {"infinity", SQLITE_DECIMAL_PINF},
        {"inf", SQLITE_DECIMAL_PINF},
    };
    for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
        if (strlen(specials[i].text) != n || strncasecmp(s, specials[i].text, n) != 0)
            continue;
        if (specials[i].kind == SQLITE_DECIMAL_NAN && signed_)
            return false; /* numeric_in takes no sign before NaN */
        d->kind = specials[i].kind;
        if (d->kind == SQLITE_DECIMAL_PINF && d->negative)
            d->kind = SQLITE_DECIMAL_NINF;
        d->negative = false;
        return true;
    }
    return false;
}

bool sqlite_decimal_parse(const char *s, size_t n, char *buf, sqlite_decimal *d)
{
    size_t i = 0;
    memset(d, 0, sizeof(*d));
    d->digits = buf;
    while (i < n && isspace((unsigned char)s[i]))
        i++;
    while (n > i && isspace((unsigned char)s[n - 1]))
        n--;
    bool signed_ = false;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        d->negative = s[i] == '-';
        signed_ = true;
        i++;
    }
    if (i < n && !isdigit((unsigned char)s[i]) && s[i] != '.')
        return sqlite_decimal_special(s + i, n - i, signed_, d);

    int nd = 0;
    long weight = 0, frac = 0;
    bool any_digit = false, point = false, leading = true;
    for (; i < n; i++) {
        char c = s[i];
        if (isdigit((unsigned char)c)) {
            any_digit = true;
            if (point)
                frac++;
            if (leading && c == '0') {
                if (point)
                    weight--;
                continue;
            }
            leading = false;
            buf[nd++] = c;
            if (!point)
                weight++;
        } else if (c == '.' && !point) {
            point = true;
        } else {
            break;
        }
        if (weight > SQLITE_DECIMAL_MAX_WEIGHT || frac > SQLITE_DECIMAL_MAX_DSCALE + 1000)
            return false;
    }
    if (!any_digit)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        if (i >= n || !isdigit((unsigned char)s[i]))
            return false;
        long e = 0;
        for (; i < n && isdigit((unsigned char)s[i]); i++) {
            e = e * 10 + (s[i] - '0');
            if (e > SQLITE_DECIMAL_MAX_WEIGHT + SQLITE_DECIMAL_MAX_DSCALE)
                return false;
        }
        if (eneg)
            e = -e;
        weight += e;
        frac -= e;
    }
    if (i != n)
        return false;
    while (nd > 0 && buf[nd - 1] == '0')
        nd--;
    if (nd == 0) {
        weight = 0;
        d->negative = false;
    }
    if (weight > SQLITE_DECIMAL_MAX_WEIGHT || weight < -SQLITE_DECIMAL_MAX_DSCALE - 1 ||
        frac > SQLITE_DECIMAL_MAX_DSCALE)
        return false;
    d->ndigits = nd;
    d->weight = (int)weight;
    d->dscale = frac > 0 ? (int)frac : 0;
    return true;
}

/* -1, 0, 1 comparing the magnitudes of two finite values. */
static int sqlite_decimal_cmp_abs(const sqlite_decimal *a, const sqlite_decimal *b)
{
    if (a->ndigits == 0 || b->ndigits == 0)
        return (a->ndigits != 0) - (b->ndigits != 0);
    if (a->weight != b->weight)
        return a->weight < b->weight ? -1 : 1;
    int n = a->ndigits < b->ndigits ? a->ndigits : b->ndigits;
    int c = memcmp(a->digits, b->digits, (size_t)n);
    if (c)
        return c < 0 ? -1 : 1;
    return (a->ndigits > n) - (b->ndigits > n);
}

static int sqlite_decimal_rank(const sqlite_decimal *d)
{
    switch (d->kind) {
    case SQLITE_DECIMAL_NINF:
        return 0;
    case SQLITE_DECIMAL_FINITE:
        return 1;
    case SQLITE_DECIMAL_PINF:
        return 2;
    case SQLITE_DECIMAL_NAN:
        return 3;
    }
    return 3;
}

int sqlite_decimal_cmp(const sqlite_decimal *a, const sqlite_decimal *b)
{
    int ra = sqlite_decimal_rank(a), rb = sqlite_decimal_rank(b);
    if (ra != rb)
        return ra < rb ? -1 : 1;
    if (a->kind != SQLITE_DECIMAL_FINITE)
        return 0;
    bool an = a->negative && a->ndigits, bn = b->negative && b->ndigits;
    if (an != bn)
        return an ? -1 : 1;
    int c = sqlite_decimal_cmp_abs(a, b);
    return an ? -c : c;
}

/* The digit of d at place 10^place ('0' outside its digits). */
static char sqlite_decimal_digit(const sqlite_decimal *d, long place)
{
    long j = d->weight - 1 - place;
    return j >= 0 && j < d->ndigits ? d->digits[j] : '0';
}

size_t sqlite_decimal_format(const sqlite_decimal *d, int scale, char *out, size_t cap)
{
    const char *special = d->kind == SQLITE_DECIMAL_NAN    ? "NaN"
                          : d->kind == SQLITE_DECIMAL_PINF ? "Infinity"
                          : d->kind == SQLITE_DECIMAL_NINF ? "-Infinity"
                                                           : NULL;
    if (special) {
        size_t len = strlen(special);
        if (cap < len + 1)
            return len + 1;
        memcpy(out, special, len + 1);
        return len;
    }
    if (scale < 0)
        scale = d->dscale;
    long intlen = d->weight > 1 ? d->weight : 1;
    /* sign, a carried digit, the digits, the point, the NUL */
    size_t need = 1 + 1 + (size_t)intlen + (size_t)scale + 1 + 1;
    if (cap < need)
        return need;

    /* the digits from place 10^(intlen-1) down to 10^-scale, after a slot
     * for a carry out of the top */
    char *dig = out + 2;
    size_t nd = (size_t)intlen + (size_t)scale;
    for (size_t t = 0; t < nd; t++)
        dig[t] = sqlite_decimal_digit(d, intlen - 1 - (long)t);
    bool carry = sqlite_decimal_digit(d, -(long)scale - 1) >= '5';
    for (size_t t = nd; carry && t-- > 0;) {
        if (dig[t] == '9') {
            dig[t] = '0';
        } else {
            dig[t]++;
            carry = false;
        }
    }
    const char *first = dig;
    if (carry) {
        dig[-1] = '1';
        first = dig - 1;
        intlen++;
    }
    bool nonzero = false;
    for (const char *p = first; p < dig + nd; p++)
        nonzero |= *p != '0';

    /* assemble in place: sign, integer digits, point, fraction */
    char tmp_sign = d->negative && nonzero ? '-' : 0;
    size_t o = 0;
    size_t fraclen = (size_t)scale;
    char *src = (char *)first;
    if (tmp_sign)
        out[o++] = '-';
    memmove(out + o, src, (size_t)intlen);
    o += (size_t)intlen;
    if (fraclen) {
        /* the fraction follows the integer digits in src; shift it past the point */
        memmove(out + o + 1, src + intlen, fraclen);
        out[o++] = '.';
        o += fraclen;
    }
    out[o] = '\0';
    return o;
}

int sqlite_numeric_collate(void *arg, int alen, const void *a, int blen, const void *b)
{
    (void)arg;
    char abuf[64], bbuf[64];
    char *ap = (size_t)alen <= sizeof(abuf) ? abuf : malloc((size_t)alen);
    char *bp = (size_t)blen <= sizeof(bbuf) ? bbuf : malloc((size_t)blen);
    sqlite_decimal da, db;
    bool an = ap && sqlite_decimal_parse(a, (size_t)alen, ap, &da);
    bool bn = bp && sqlite_decimal_parse(b, (size_t)blen, bp, &db);
    int c;
    if (an && bn) {
        c = sqlite_decimal_cmp(&da, &db);
    } else if (an != bn) {
        c = an ? -1 : 1;
    } else {
        int n = alen < blen ? alen : blen;
        c = memcmp(a, b, (size_t)n);
        if (c == 0)
            c = (alen > blen) - (alen < blen);
    }
    if (ap != abuf)
        free(ap);
    if (bp != bbuf)
        free(bp);
    return c;
}
