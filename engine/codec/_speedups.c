/*
 * Optional C accelerator for the FIX codec hot path.
 *
 * Theory of operation
 * -------------------
 * The pure-Python code in framer.py and parser.py is the reference; every
 * function here reproduces one of them byte for byte, reasons and error
 * texts included (tests/unit/test_speedups.py compares both on random and
 * hostile input):
 *
 *   next_frame(buf, pos, max_message_size)  ~ Framer.next_frame
 *       A pure function over the framer's buffer: returns None when more
 *       bytes are needed, else (new_pos, data, reason) where reason is None
 *       for a verified frame and the Garbled reason otherwise.  The Python
 *       Framer keeps its buffer and position; this only cuts.
 *
 *   split_fields(frame)                     ~ parser.split_fields
 *   encode(begin, msg_type, header, body, trailer)  ~ encoder.encode
 *       for messages made of (int, bytes) pairs in plain lists; returns
 *       None for anything else and the Python encoder does the work.
 *
 *   decode(frame)                           ~ parser.decode
 *       decode builds the message through the class given to configure()
 *       (DecodedMessage(header, body, trailer, raw, misplaced_tag, clean)) and
 *       also fills its read index (Message._index) with the first value of
 *       each tag, which is what Message._build_index would compute lazily.
 *
 * No FIX constant lives here: configure() receives the header and trailer
 * tag sets, the data-length mapping, the error class and the message class
 * from Python at import time.  Tags below TABLE_SIZE are classified through
 * a flag table built from those sets; any other tag (negative, huge) is
 * looked up in the Python objects themselves.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define SOH 0x01
#define TABLE_SIZE 8192
#define CACHED_TAGS 2048

#define F_HEADER 1
#define F_TRAILER 2
#define F_DATA 4

typedef struct {
    PyObject *header_tags;  /* set/frozenset of int */
    PyObject *trailer_tags; /* set/frozenset of int */
    PyObject *data_tags;    /* dict int -> int (a private copy) */
    PyObject *error_class;  /* GarbledMessageError */
    PyObject *message_class;
    PyObject *str_index;    /* interned "_index" */
    PyObject *tag_cache[CACHED_TAGS];
    unsigned char flags[TABLE_SIZE];
    int configured;
} module_state;

static module_state *
get_state(PyObject *module)
{
    return (module_state *)PyModule_GetState(module);
}

/* ------------------------------------------------------------------ */
/* helpers                                                             */

static int
all_digits(const char *p, Py_ssize_t n)
{
    if (n <= 0)
        return 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if ((unsigned char)(p[i] - '0') > 9)
            return 0;
    }
    return 1;
}

static const char *
find_byte(const char *p, const char *end, char c)
{
    if (p >= end)
        return NULL;
    return (const char *)memchr(p, c, (size_t)(end - p));
}

static Py_ssize_t
find_sub(const char *buf, Py_ssize_t size, Py_ssize_t from, const char *sub, Py_ssize_t n)
{
    if (from < 0)
        from = 0;
    if (from > size || size - from < n)
        return -1;
    /* memchr on the first byte, then compare: portable (no memmem) and
     * fast because the first byte (SOH) is rare enough. */
    const char *p = buf + from;
    const char *last = buf + size - n;
    while (p <= last) {
        p = memchr(p, sub[0], (size_t)(last - p) + 1);
        if (p == NULL)
            return -1;
        if (memcmp(p, sub, (size_t)n) == 0)
            return (Py_ssize_t)(p - buf);
        p++;
    }
    return -1;
}

static void
raise_garbled(module_state *st, PyObject *text)
{
    if (text == NULL)
        return;
    PyObject *exc = PyObject_CallOneArg(st->error_class, text);
    Py_DECREF(text);
    if (exc == NULL)
        return;
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
}

/* repr(frame[:n]) as Python would show it inside an f-string. */
static PyObject *
head_repr_bytes(const char *p, Py_ssize_t len, Py_ssize_t n)
{
    return PyBytes_FromStringAndSize(p, len < n ? len : n);
}

static void
raise_bad_tag(module_state *st, const char *frame, Py_ssize_t flen, const char *t, Py_ssize_t tlen)
{
    PyObject *a = head_repr_bytes(t, tlen, 20);
    PyObject *b = head_repr_bytes(frame, flen, 60);
    if (a != NULL && b != NULL)
        raise_garbled(st, PyUnicode_FromFormat("field tag %R is not a number in %R", a, b));
    Py_XDECREF(a);
    Py_XDECREF(b);
}

static void
raise_no_equals(module_state *st, const char *frame, Py_ssize_t flen)
{
    PyObject *b = head_repr_bytes(frame, flen, 60);
    if (b != NULL)
        raise_garbled(st, PyUnicode_FromFormat("field without '=' in %R", b));
    Py_XDECREF(b);
}

/* int(tag_text) with the parser's rules: digits with an optional leading
 * '-'.  Returns a new reference, or NULL with GarbledMessageError set.
 * *small receives the value when it fits in [0, TABLE_SIZE), else -1. */
static PyObject *
parse_tag(module_state *st, const char *frame, Py_ssize_t flen, const char *t, Py_ssize_t tlen,
          long *small)
{
    const char *d = t;
    Py_ssize_t dn = tlen;
    int neg = 0;
    *small = -1;
    if (dn > 0 && d[0] == '-') {
        neg = 1;
        d++;
        dn--;
    }
    if (!all_digits(d, dn)) {
        raise_bad_tag(st, frame, flen, t, tlen);
        return NULL;
    }
    if (dn <= 18) {
        long long v = 0;
        for (Py_ssize_t i = 0; i < dn; i++)
            v = v * 10 + (d[i] - '0');
        if (neg)
            v = -v;
        if (v >= 0 && v < CACHED_TAGS) {
            PyObject *o = st->tag_cache[v];
            if (o == NULL) {
                o = PyLong_FromLongLong(v);
                if (o == NULL)
                    return NULL;
                st->tag_cache[v] = o;
            }
            *small = (long)v;
            Py_INCREF(o);
            return o;
        }
        if (v >= 0 && v < TABLE_SIZE)
            *small = (long)v;
        return PyLong_FromLongLong(v);
    }
    /* Arbitrarily long: let Python do it. */
    PyObject *text = PyUnicode_FromStringAndSize(t, tlen);
    if (text == NULL)
        return NULL;
    PyObject *v = PyLong_FromUnicodeObject(text, 10);
    Py_DECREF(text);
    return v;
}

static int
tag_flags(module_state *st, PyObject *tag, long small)
{
    if (small >= 0)
        return st->flags[small];
    int f = 0;
    int r = PySet_Contains(st->header_tags, tag);
    if (r < 0)
        return -1;
    if (r)
        f |= F_HEADER;
    r = PySet_Contains(st->trailer_tags, tag);
    if (r < 0)
        return -1;
    if (r)
        f |= F_TRAILER;
    r = PyDict_Contains(st->data_tags, tag);
    if (r < 0)
        return -1;
    if (r)
        f |= F_DATA;
    return f;
}

static PyObject *
make_field(PyObject *tag, const char *v, Py_ssize_t n)
{
    PyObject *value = PyBytes_FromStringAndSize(v, n);
    if (value == NULL) {
        Py_DECREF(tag);
        return NULL;
    }
    PyObject *field = PyTuple_New(2);
    if (field == NULL) {
        Py_DECREF(tag);
        Py_DECREF(value);
        return NULL;
    }
    PyTuple_SET_ITEM(field, 0, tag);
    PyTuple_SET_ITEM(field, 1, value);
    return field;
}

/* Does the text [p, p+n) spell b"%d" % data_tag? */
static int
spells_tag(PyObject *data_tag, const char *p, Py_ssize_t n)
{
    PyObject *s = PyObject_Str(data_tag);
    if (s == NULL)
        return -1;
    Py_ssize_t sn;
    const char *sp = PyUnicode_AsUTF8AndSize(s, &sn);
    int eq = sp != NULL && sn == n && memcmp(sp, p, (size_t)n) == 0;
    Py_DECREF(s);
    return sp == NULL ? -1 : eq;
}

/* The length given by a data-length field's value: its digits as a number,
 * saturated (a value that does not fit can never be matched by a frame). */
static Py_ssize_t
data_length(const char *v, Py_ssize_t n)
{
    if (n > 18) {
        /* int() of a long digit string: let Python convert it so that its
         * limits (sys.set_int_max_str_digits) apply exactly as in parser.py. */
        PyObject *text = PyUnicode_FromStringAndSize(v, n);
        if (text == NULL)
            return -1;
        PyObject *num = PyLong_FromUnicodeObject(text, 10);
        Py_DECREF(text);
        if (num == NULL)
            return -1;
        Py_DECREF(num);
        return PY_SSIZE_T_MAX;
    }
    Py_ssize_t want = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (want > (PY_SSIZE_T_MAX - 9) / 10)
            return PY_SSIZE_T_MAX;
        want = want * 10 + (v[i] - '0');
    }
    return want;
}

typedef int (*field_sink)(void *ctx, PyObject *field, PyObject *tag, int flags);

/* parser.split_fields over a bytes buffer, handing each field to sink
 * (which steals the field reference).  Returns 0, or -1 with an error set. */
static int
walk_fields(module_state *st, const char *frame, Py_ssize_t flen, field_sink sink, void *ctx)
{
    if (flen == 0 || frame[flen - 1] != SOH) {
        raise_garbled(st, PyUnicode_FromString("frame does not end with SOH"));
        return -1;
    }
    const char *end = frame + flen; /* end[-1] is SOH */
    const char *p = frame;
    while (p < end) {
        const char *soh = memchr(p, SOH, (size_t)(end - p));
        const char *eq = find_byte(p, soh, '=');
        if (eq == NULL) {
            raise_no_equals(st, frame, flen);
            return -1;
        }
        long small;
        PyObject *tag = parse_tag(st, frame, flen, p, eq - p, &small);
        if (tag == NULL)
            return -1;
        int flags = tag_flags(st, tag, small);
        if (flags < 0) {
            Py_DECREF(tag);
            return -1;
        }
        const char *value = eq + 1;
        Py_ssize_t vlen = soh - value;
        Py_INCREF(tag);
        PyObject *field = make_field(tag, value, vlen);
        if (field == NULL) {
            Py_DECREF(tag);
            return -1;
        }
        if (sink(ctx, field, tag, flags) < 0) {
            Py_DECREF(tag);
            return -1;
        }
        p = soh + 1;
        if ((flags & F_DATA) && p < end && all_digits(value, vlen)) {
            /* Read the data field by length when the next field is it and
             * an embedded SOH split it (parser.split_fields). */
            PyObject *data_tag = PyDict_GetItemWithError(st->data_tags, tag);
            Py_DECREF(tag);
            if (data_tag == NULL) {
                if (PyErr_Occurred())
                    return -1;
                continue;
            }
            Py_INCREF(data_tag);
            Py_ssize_t want = data_length(value, vlen);
            if (want < 0) {
                Py_DECREF(data_tag);
                return -1;
            }
            const char *soh2 = memchr(p, SOH, (size_t)(end - p));
            const char *eq2 = find_byte(p, soh2, '=');
            if (eq2 != NULL && soh2 - (eq2 + 1) < want) {
                int same = spells_tag(data_tag, p, eq2 - p);
                if (same < 0) {
                    Py_DECREF(data_tag);
                    return -1;
                }
                const char *d0 = eq2 + 1;
                /* Joining pieces stops at the first SOH at or beyond
                 * the wanted length: the length matches exactly when that
                 * SOH sits right at d0 + want. */
                if (same && want <= (end - 1) - d0 && d0[want] == SOH) {
                    PyObject *data_field = make_field(data_tag, d0, want);
                    if (data_field == NULL)
                        return -1;
                    Py_INCREF(data_tag);
                    int flags2 = tag_flags(st, data_tag, -1);
                    if (flags2 < 0 || sink(ctx, data_field, data_tag, flags2) < 0) {
                        if (flags2 < 0)
                            Py_DECREF(data_field);
                        Py_DECREF(data_tag);
                        return -1;
                    }
                    Py_DECREF(data_tag);
                    p = d0 + want + 1;
                    continue;
                }
            }
            Py_DECREF(data_tag);
            continue;
        }
        Py_DECREF(tag);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* split_fields                                                        */

static int
list_sink(void *ctx, PyObject *field, PyObject *tag, int flags)
{
    (void)tag;
    (void)flags;
    int r = PyList_Append((PyObject *)ctx, field);
    Py_DECREF(field);
    return r;
}

static int
check_configured(module_state *st)
{
    if (!st->configured) {
        PyErr_SetString(PyExc_RuntimeError, "_speedups.configure() has not been called");
        return -1;
    }
    return 0;
}

static PyObject *
sp_split_fields(PyObject *module, PyObject *frame)
{
    module_state *st = get_state(module);
    if (check_configured(st) < 0)
        return NULL;
    if (!PyBytes_Check(frame)) {
        PyErr_Format(PyExc_TypeError, "frame must be bytes, not %.100s", Py_TYPE(frame)->tp_name);
        return NULL;
    }
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    if (walk_fields(st, PyBytes_AS_STRING(frame), PyBytes_GET_SIZE(frame), list_sink, out) < 0) {
        Py_DECREF(out);
        return NULL;
    }
    return out;
}

/* ------------------------------------------------------------------ */
/* decode                                                              */

typedef struct {
    PyObject *header, *body, *trailer;
    PyObject *misplaced; /* borrowed from a field tuple, or NULL */
    int in_body, in_trailer;
    int suspect; /* a tag <= 0 or an empty value was seen */
} sections;

static int
section_sink(void *ctx, PyObject *field, PyObject *tag, int flags)
{
    sections *s = (sections *)ctx;
    PyObject *target;
    if (s->in_trailer) {
        if (!(flags & F_TRAILER) && s->misplaced == NULL)
            s->misplaced = PyTuple_GET_ITEM(field, 0);
        target = s->trailer;
    }
    else if (flags & F_HEADER) {
        if (s->in_body && s->misplaced == NULL)
            s->misplaced = PyTuple_GET_ITEM(field, 0);
        target = s->header;
    }
    else if (flags & F_TRAILER) {
        s->in_trailer = 1;
        target = s->trailer;
    }
    else {
        s->in_body = 1;
        target = s->body;
    }
    if (!s->suspect) {
        int overflow = 0;
        long v = PyLong_AsLongAndOverflow(tag, &overflow);
        if (v == -1 && PyErr_Occurred()) {
            Py_DECREF(field);
            return -1;
        }
        if (overflow < 0 || (overflow == 0 && v <= 0)
                || PyBytes_GET_SIZE(PyTuple_GET_ITEM(field, 1)) == 0)
            s->suspect = 1;
    }
    int r = PyList_Append(target, field);
    Py_DECREF(field);
    return r;
}

/* Message._build_index: the first value of each tag, header then body then trailer. */
static PyObject *
build_index(sections *s)
{
    PyObject *index = PyDict_New();
    if (index == NULL)
        return NULL;
    PyObject *parts[3] = {s->header, s->body, s->trailer};
    for (int k = 0; k < 3; k++) {
        PyObject *lst = parts[k];
        Py_ssize_t n = PyList_GET_SIZE(lst);
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *f = PyList_GET_ITEM(lst, i);
            PyObject *r = PyDict_SetDefault(index, PyTuple_GET_ITEM(f, 0), PyTuple_GET_ITEM(f, 1));
            if (r == NULL) {
                Py_DECREF(index);
                return NULL;
            }
        }
    }
    return index;
}

static PyObject *
sp_decode(PyObject *module, PyObject *frame)
{
    module_state *st = get_state(module);
    if (check_configured(st) < 0)
        return NULL;
    if (!PyBytes_Check(frame)) {
        PyErr_Format(PyExc_TypeError, "frame must be bytes, not %.100s", Py_TYPE(frame)->tp_name);
        return NULL;
    }
    sections s = {NULL, NULL, NULL, NULL, 0, 0, 0};
    PyObject *msg = NULL, *index = NULL;
    s.header = PyList_New(0);
    s.body = PyList_New(0);
    s.trailer = PyList_New(0);
    if (s.header == NULL || s.body == NULL || s.trailer == NULL)
        goto done;
    if (walk_fields(st, PyBytes_AS_STRING(frame), PyBytes_GET_SIZE(frame), section_sink, &s) < 0)
        goto done;
    PyObject *args[6] = {s.header, s.body, s.trailer, frame, s.misplaced ? s.misplaced : Py_None,
                         s.suspect ? Py_False : Py_True};
    msg = PyObject_Vectorcall(st->message_class, args, 6, NULL);
    if (msg == NULL)
        goto done;
    index = build_index(&s);
    if (index == NULL || PyObject_SetAttr(msg, st->str_index, index) < 0)
        Py_CLEAR(msg);
done:
    Py_XDECREF(index);
    Py_XDECREF(s.header);
    Py_XDECREF(s.body);
    Py_XDECREF(s.trailer);
    return msg;
}

/* ------------------------------------------------------------------ */
/* next_frame                                                          */

static PyObject *
cut(Py_ssize_t new_pos, const char *data, Py_ssize_t n, const char *reason)
{
    PyObject *pos = PyLong_FromSsize_t(new_pos);
    PyObject *bytes = PyBytes_FromStringAndSize(data, n);
    PyObject *why;
    if (reason == NULL) {
        why = Py_None;
        Py_INCREF(why);
    }
    else {
        why = PyUnicode_FromString(reason);
    }
    PyObject *out = NULL;
    if (pos != NULL && bytes != NULL && why != NULL)
        out = PyTuple_Pack(3, pos, bytes, why);
    Py_XDECREF(pos);
    Py_XDECREF(bytes);
    Py_XDECREF(why);
    return out;
}

/* Framer._skip_to: drop [pos, end) (default: up to the next "<SOH>8=FIX"
 * after start) and report it garbled. */
static PyObject *
skip_to(const char *buf, Py_ssize_t size, Py_ssize_t pos, Py_ssize_t start, const char *reason,
        Py_ssize_t end)
{
    if (end < 0) {
        Py_ssize_t nxt = find_sub(buf, size, start + 1, "\x01" "8=FIX", 6);
        end = nxt < 0 ? size : nxt + 1;
    }
    return cut(end, buf + pos, end - pos, reason);
}

static PyObject *
frame_cut(const char *buf, Py_ssize_t size, Py_ssize_t pos, long long max_size)
{
    if (size - pos < 2)
        Py_RETURN_NONE;
    /* 1. find BeginString. */
    Py_ssize_t start;
    if (size - pos >= 5 && memcmp(buf + pos, "8=FIX", 5) == 0) {
        start = pos;
    }
    else {
        if (size - pos < 5 && memcmp(buf + pos, "8=FIX", (size_t)(size - pos)) == 0)
            Py_RETURN_NONE;
        Py_ssize_t nxt = find_sub(buf, size, pos, "\x01" "8=FIX", 6);
        if (nxt >= 0)
            return skip_to(buf, size, pos, pos, "bytes before BeginString", nxt + 1);
        Py_ssize_t keep_from = size - 5;
        if (keep_from < pos)
            keep_from = pos;
        if (keep_from > pos)
            return skip_to(buf, size, pos, pos, "bytes before BeginString", keep_from);
        Py_RETURN_NONE;
    }
    /* 2. BeginString, BodyLength, MsgType. */
    const char *p1 = memchr(buf + start, SOH, (size_t)(size - start));
    if (p1 == NULL) {
        if (size - start > 64)
            return skip_to(buf, size, pos, start, "BeginString not terminated", -1);
        Py_RETURN_NONE;
    }
    Py_ssize_t soh1 = p1 - buf;
    if (size - soh1 < 4)
        Py_RETURN_NONE;
    if (buf[soh1 + 1] != '9' || buf[soh1 + 2] != '=')
        return skip_to(buf, size, pos, start, "BodyLength(9) is not the second field", -1);
    const char *p2 = memchr(buf + soh1 + 3, SOH, (size_t)(size - soh1 - 3));
    if (p2 == NULL) {
        if (size - soh1 > 16)
            return skip_to(buf, size, pos, start, "BodyLength(9) not terminated", -1);
        Py_RETURN_NONE;
    }
    Py_ssize_t soh2 = p2 - buf;
    Py_ssize_t ln = soh2 - (soh1 + 3);
    if (!all_digits(buf + soh1 + 3, ln) || ln > 9)
        return skip_to(buf, size, pos, start, "BodyLength(9) is not a number", -1);
    long long body_length = 0;
    for (Py_ssize_t i = 0; i < ln; i++)
        body_length = body_length * 10 + (buf[soh1 + 3 + i] - '0');
    if (body_length > max_size)
        return skip_to(buf, size, pos, start, "BodyLength(9) exceeds the maximum message size",
                       -1);
    /* 3. find CheckSum at or after the declared end of the body. */
    Py_ssize_t body_start = soh2 + 1;
    long long body_end = (long long)body_start + body_length;
    if ((long long)size < body_end)
        Py_RETURN_NONE;
    Py_ssize_t trailer = find_sub(buf, size, (Py_ssize_t)body_end - 1, "\x01" "10=", 4);
    if (trailer < 0) {
        if ((long long)(size - start) > max_size + 64)
            return skip_to(buf, size, pos, start,
                           "no CheckSum(10) within the maximum message size", -1);
        Py_RETURN_NONE;
    }
    const char *pe = find_byte(buf + trailer + 4, buf + size, SOH);
    if (pe == NULL) {
        if (size - trailer > 8)
            return skip_to(buf, size, pos, start, "CheckSum(10) not terminated", -1);
        Py_RETURN_NONE;
    }
    Py_ssize_t end = (pe - buf) + 1;
    /* 4. verify. */
    const char *frame = buf + start;
    Py_ssize_t flen = end - start;
    if (body_start + 3 > end || memcmp(buf + body_start, "35=", 3) != 0)
        return cut(end, frame, flen, "MsgType(35) is not the third field");
    if ((long long)trailer != body_end - 1)
        return cut(end, frame, flen, "BodyLength(9) does not match the message length");
    const char *cs = buf + trailer + 4;
    Py_ssize_t cslen = (end - 1) - (trailer + 4);
    if (cslen != 3 || !all_digits(cs, 3))
        return cut(end, frame, flen, "CheckSum(10) is not three digits");
    unsigned int sum = 0;
    const unsigned char *u = (const unsigned char *)frame;
    Py_ssize_t upto = trailer - start + 1;
    for (Py_ssize_t i = 0; i < upto; i++)
        sum += u[i];
    int want = (cs[0] - '0') * 100 + (cs[1] - '0') * 10 + (cs[2] - '0');
    if ((int)(sum & 0xFF) != want)
        return cut(end, frame, flen, "CheckSum(10) is wrong");
    return cut(end, frame, flen, NULL);
}

static PyObject *
sp_next_frame(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "next_frame(buf, pos, max_message_size)");
        return NULL;
    }
    Py_ssize_t pos = PyLong_AsSsize_t(args[1]);
    if (pos == -1 && PyErr_Occurred())
        return NULL;
    int overflow = 0;
    long long max_size = PyLong_AsLongLongAndOverflow(args[2], &overflow);
    if (max_size == -1 && PyErr_Occurred())
        return NULL;
    /* Clamp so that max_size + 64 cannot overflow; no frame gets near. */
    if (overflow > 0 || max_size > ((long long)1 << 60))
        max_size = (long long)1 << 60;
    if (overflow < 0 || max_size < -((long long)1 << 60))
        max_size = -((long long)1 << 60);
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    PyObject *out;
    if (pos < 0 || pos > view.len) {
        PyErr_SetString(PyExc_ValueError, "pos outside the buffer");
        out = NULL;
    }
    else {
        out = frame_cut((const char *)view.buf, view.len, pos, max_size);
    }
    PyBuffer_Release(&view);
    return out;
}

/* ------------------------------------------------------------------ */
/* encode                                                              */

static int
is_envelope_tag(long long tag)
{
    return tag == 8 || tag == 9 || tag == 35 || tag == 10;
}

static Py_ssize_t
decimal_len(long long v)
{
    Py_ssize_t n = v < 0 ? 2 : 1;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    while (u >= 10) {
        u /= 10;
        n++;
    }
    return n;
}

static char *
put_decimal(char *out, long long v)
{
    char tmp[24];
    int n = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *out++ = '-';
    while (n)
        *out++ = tmp[--n];
    return out;
}

/* Size of the fields of one section as encoder._emit writes them, or -1
 * when the section holds anything but (int, bytes) pairs (the caller then
 * leaves the work to the Python encoder). */
static Py_ssize_t
section_size(PyObject *fields)
{
    if (!PyList_CheckExact(fields))
        return -1;
    Py_ssize_t size = 0;
    Py_ssize_t n = PyList_GET_SIZE(fields);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *f = PyList_GET_ITEM(fields, i);
        if (!PyTuple_CheckExact(f) || PyTuple_GET_SIZE(f) != 2)
            return -1;
        PyObject *tag = PyTuple_GET_ITEM(f, 0);
        PyObject *value = PyTuple_GET_ITEM(f, 1);
        if (!PyLong_CheckExact(tag) || !PyBytes_CheckExact(value))
            return -1;
        int overflow = 0;
        long long t = PyLong_AsLongLongAndOverflow(tag, &overflow);
        if (overflow || (t == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            return -1;
        }
        if (is_envelope_tag(t))
            continue;
        size += decimal_len(t) + 2 + PyBytes_GET_SIZE(value);
    }
    return size;
}

static char *
section_write(PyObject *fields, char *out)
{
    Py_ssize_t n = PyList_GET_SIZE(fields);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *f = PyList_GET_ITEM(fields, i);
        long long t = PyLong_AsLongLong(PyTuple_GET_ITEM(f, 0));
        if (is_envelope_tag(t))
            continue;
        PyObject *value = PyTuple_GET_ITEM(f, 1);
        out = put_decimal(out, t);
        *out++ = '=';
        Py_ssize_t vn = PyBytes_GET_SIZE(value);
        memcpy(out, PyBytes_AS_STRING(value), (size_t)vn);
        out += vn;
        *out++ = SOH;
    }
    return out;
}

/* encoder.encode once BeginString and MsgType are known; None when the
 * message holds anything but (int, bytes) pairs in plain lists. */
static PyObject *
sp_encode(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "encode(begin, msg_type, header, body, trailer)");
        return NULL;
    }
    PyObject *begin = args[0], *msg_type = args[1];
    if (!PyBytes_CheckExact(begin) || !PyBytes_CheckExact(msg_type))
        Py_RETURN_NONE;
    Py_ssize_t body_len = 3 + PyBytes_GET_SIZE(msg_type) + 1;
    for (int k = 2; k < 5; k++) {
        Py_ssize_t n = section_size(args[k]);
        if (n < 0)
            Py_RETURN_NONE;
        body_len += n;
    }
    Py_ssize_t head_len = 2 + PyBytes_GET_SIZE(begin) + 1 + 2 + decimal_len(body_len) + 1;
    PyObject *result = PyBytes_FromStringAndSize(NULL, head_len + body_len + 7);
    if (result == NULL)
        return NULL;
    char *start = PyBytes_AS_STRING(result);
    char *out = start;
    memcpy(out, "8=", 2);
    out += 2;
    memcpy(out, PyBytes_AS_STRING(begin), (size_t)PyBytes_GET_SIZE(begin));
    out += PyBytes_GET_SIZE(begin);
    *out++ = SOH;
    memcpy(out, "9=", 2);
    out = put_decimal(out + 2, body_len);
    *out++ = SOH;
    memcpy(out, "35=", 3);
    out += 3;
    memcpy(out, PyBytes_AS_STRING(msg_type), (size_t)PyBytes_GET_SIZE(msg_type));
    out += PyBytes_GET_SIZE(msg_type);
    *out++ = SOH;
    for (int k = 2; k < 5; k++)
        out = section_write(args[k], out);
    unsigned int sum = 0;
    for (const unsigned char *u = (const unsigned char *)start; u < (const unsigned char *)out; u++)
        sum += *u;
    sum &= 0xFF;
    memcpy(out, "10=", 3);
    out[3] = (char)('0' + sum / 100);
    out[4] = (char)('0' + sum / 10 % 10);
    out[5] = (char)('0' + sum % 10);
    out[6] = SOH;
    return result;
}

/* checksum(data): byte sum modulo 256 over any buffer. */
static PyObject *
sp_checksum(PyObject *module, PyObject *data)
{
    (void)module;
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    unsigned int sum = 0;
    const unsigned char *u = (const unsigned char *)view.buf;
    for (Py_ssize_t i = 0; i < view.len; i++)
        sum += u[i];
    PyBuffer_Release(&view);
    return PyLong_FromLong((long)(sum & 0xFF));
}

/* ------------------------------------------------------------------ */
/* configure                                                           */

static int
mark(module_state *st, PyObject *tags, int flag)
{
    PyObject *it = PyObject_GetIter(tags);
    if (it == NULL)
        return -1;
    PyObject *item;
    while ((item = PyIter_Next(it)) != NULL) {
        if (!PyLong_Check(item)) {
            Py_DECREF(item);
            Py_DECREF(it);
            PyErr_SetString(PyExc_TypeError, "tags must be int");
            return -1;
        }
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(item, &overflow);
        Py_DECREF(item);
        if (v == -1 && PyErr_Occurred()) {
            Py_DECREF(it);
            return -1;
        }
        if (!overflow && v >= 0 && v < TABLE_SIZE)
            st->flags[v] |= (unsigned char)flag;
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

static PyObject *
sp_configure(PyObject *module, PyObject *args)
{
    module_state *st = get_state(module);
    PyObject *header, *trailer, *data, *error_class, *message_class;
    if (!PyArg_ParseTuple(args, "OOO!OO:configure", &header, &trailer, &PyDict_Type, &data,
                          &error_class, &message_class))
        return NULL;
    PyObject *h = PyFrozenSet_New(header);
    PyObject *t = PyFrozenSet_New(trailer);
    PyObject *d = PyDict_Copy(data);
    if (h == NULL || t == NULL || d == NULL) {
        Py_XDECREF(h);
        Py_XDECREF(t);
        Py_XDECREF(d);
        return NULL;
    }
    Py_XSETREF(st->header_tags, h);
    Py_XSETREF(st->trailer_tags, t);
    Py_XSETREF(st->data_tags, d);
    Py_INCREF(error_class);
    Py_XSETREF(st->error_class, error_class);
    Py_INCREF(message_class);
    Py_XSETREF(st->message_class, message_class);
    st->configured = 0;
    memset(st->flags, 0, sizeof st->flags);
    if (mark(st, h, F_HEADER) < 0 || mark(st, t, F_TRAILER) < 0 || mark(st, d, F_DATA) < 0)
        return NULL;
    st->configured = 1;
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------ */
/* module                                                              */

static PyMethodDef sp_methods[] = {
    {"configure", sp_configure, METH_VARARGS,
     "configure(header_tags, trailer_tags, data_length_tags, error_class, message_class)\n"
     "Give the codec's constants and classes; must be called before use."},
    {"split_fields", sp_split_fields, METH_O, "split_fields(frame) -> list[(tag, value)]"},
    {"decode", sp_decode, METH_O, "decode(frame) -> message_class instance"},
    {"next_frame", (PyCFunction)(void (*)(void))sp_next_frame, METH_FASTCALL,
     "next_frame(buf, pos, max_message_size) -> None | (new_pos, data, reason | None)"},
    {"encode", (PyCFunction)(void (*)(void))sp_encode, METH_FASTCALL,
     "encode(begin, msg_type, header, body, trailer) -> bytes | None"},
    {"checksum", sp_checksum, METH_O, "checksum(data) -> byte sum modulo 256"},
    {NULL, NULL, 0, NULL},
};

static int
sp_exec(PyObject *module)
{
    module_state *st = get_state(module);
    st->str_index = PyUnicode_InternFromString("_index");
    return st->str_index == NULL ? -1 : 0;
}

static int
sp_traverse(PyObject *module, visitproc visit, void *arg)
{
    module_state *st = get_state(module);
    Py_VISIT(st->header_tags);
    Py_VISIT(st->trailer_tags);
    Py_VISIT(st->data_tags);
    Py_VISIT(st->error_class);
    Py_VISIT(st->message_class);
    return 0;
}

static int
sp_clear(PyObject *module)
{
    module_state *st = get_state(module);
    Py_CLEAR(st->header_tags);
    Py_CLEAR(st->trailer_tags);
    Py_CLEAR(st->data_tags);
    Py_CLEAR(st->error_class);
    Py_CLEAR(st->message_class);
    Py_CLEAR(st->str_index);
    for (int i = 0; i < CACHED_TAGS; i++)
        Py_CLEAR(st->tag_cache[i]);
    st->configured = 0;
    return 0;
}

static void
sp_free(void *module)
{
    sp_clear((PyObject *)module);
}

static PyModuleDef_Slot sp_slots[] = {
    {Py_mod_exec, sp_exec},
    {0, NULL},
};

static struct PyModuleDef sp_module = {
    PyModuleDef_HEAD_INIT,
    "pyfixmsg_plus.engine.codec._speedups",
    "C accelerator for the FIX codec (framer.py and parser.py are the reference).",
    sizeof(module_state),
    sp_methods,
    sp_slots,
    sp_traverse,
    sp_clear,
    sp_free,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&sp_module);
}
