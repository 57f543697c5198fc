// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "escape.h"
#include "log.h"

/* Fixed ids: a catalog entry and `journalctl MESSAGE_ID=` rely on them. */
#define ID_ACTION	 "d9acf7c106354fe19ad810ff4fd2604e"
#define ID_MODE_CHANGE	 "f24da8003b614e3cb182cca7d18d7b9f"
#define ID_SUMMARY	 "c6858575fdfe42299ba033c71e72a6b7"
#define ID_RELOAD_OK	 "e6e7509965ad4dfbbbeca277a8c2270f"
#define ID_RELOAD_FAILED "357519801c06443da6ea19b7840513f3"
#define ID_VM_APPEARED	 "e36e87c08b7145e3966b09910843d4bd"
#define ID_VM_VANISHED	 "337830349110481b862554fb96d6f5a1"
#define ID_VM_UNMATCHED	 "9c71c0a7b4d24a4ab12150a175911218"
#define ID_DRIVER_ABSENT "11cd6444f79541e49f1c31a425355d2d"

static const char *const msgids[_MSGID_MAX] = {
	[MSGID_NONE] = NULL,
	[MSGID_ACTION] = ID_ACTION,
	[MSGID_MODE_CHANGE] = ID_MODE_CHANGE,
	[MSGID_SUMMARY] = ID_SUMMARY,
	[MSGID_RELOAD_OK] = ID_RELOAD_OK,
	[MSGID_RELOAD_FAILED] = ID_RELOAD_FAILED,
	[MSGID_VM_APPEARED] = ID_VM_APPEARED,
	[MSGID_VM_VANISHED] = ID_VM_VANISHED,
	[MSGID_VM_UNMATCHED] = ID_VM_UNMATCHED,
	[MSGID_DRIVER_ABSENT] = ID_DRIVER_ABSENT,
};

/* The same as whole journal fields, so that an entry's fixed fields are
 * pointed at rather than formatted. */
#define MSGID_FIELD(id) "MESSAGE_ID=" id
static const char *const msgid_fields[_MSGID_MAX] = {
	[MSGID_NONE] = NULL,
	[MSGID_ACTION] = MSGID_FIELD(ID_ACTION),
	[MSGID_MODE_CHANGE] = MSGID_FIELD(ID_MODE_CHANGE),
	[MSGID_SUMMARY] = MSGID_FIELD(ID_SUMMARY),
	[MSGID_RELOAD_OK] = MSGID_FIELD(ID_RELOAD_OK),
	[MSGID_RELOAD_FAILED] = MSGID_FIELD(ID_RELOAD_FAILED),
	[MSGID_VM_APPEARED] = MSGID_FIELD(ID_VM_APPEARED),
	[MSGID_VM_VANISHED] = MSGID_FIELD(ID_VM_VANISHED),
	[MSGID_VM_UNMATCHED] = MSGID_FIELD(ID_VM_UNMATCHED),
	[MSGID_DRIVER_ABSENT] = MSGID_FIELD(ID_DRIVER_ABSENT),
};

static const char *const target_names[_LOG_TARGET_MAX] = {
	[LOG_TARGET_AUTO] = "auto",
	[LOG_TARGET_JOURNAL] = "journal",
	[LOG_TARGET_STDERR] = "stderr",
	[LOG_TARGET_MEMORY] = "memory",
};

static enum log_target log_target = LOG_TARGET_STDERR;
static int log_max_level = LOG_INFO;

static struct log_entry *mem_entries;
static size_t mem_n, mem_cap;

static int journal_sendv_default(const struct iovec *iov, int n)
{
	return sd_journal_sendv(iov, n);
}

static log_journal_sendv_fn journal_sendv = journal_sendv_default;

void log_set_journal_sendv(log_journal_sendv_fn fn)
{
	journal_sendv = fn ? fn : journal_sendv_default;
}

const char *log_msgid_string(enum log_msgid id)
{
	if ((unsigned int)id >= _MSGID_MAX)
		return NULL;
	return msgids[id];
}

int log_target_from_string(const char *s, enum log_target *ret)
{
	for (int i = 0; i < _LOG_TARGET_MAX; i++) {
		if (strcmp(s, target_names[i]) == 0) {
			*ret = (enum log_target)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *log_target_name(enum log_target t)
{
	if ((unsigned int)t >= _LOG_TARGET_MAX)
		return "?";
	return target_names[t];
}

/* systemd.exec(5): $JOURNAL_STREAM is "<dev>:<inode>" of the stream that
 * stdout/stderr were connected to; compare it with what stderr is now. */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

enum log_target log_open(enum log_target t)
{
	if (t == LOG_TARGET_AUTO)
		t = stderr_is_journal() ? LOG_TARGET_JOURNAL
					: LOG_TARGET_STDERR;
	if (t != LOG_TARGET_MEMORY)
		log_memory_clear();
	log_target = t;
	return t;
}

enum log_target log_get_target(void)
{
	return log_target;
}

void log_set_max_level(int prio)
{
	log_max_level = prio;
}

struct log_field *log_field_set(struct log_field *f, const char *key,
				const char *fmt, ...)
{
	va_list ap;

	f->key = key;
	f->kind = LOG_VALUE_TEXT;
	va_start(ap, fmt);
	vsnprintf(f->value, sizeof(f->value), fmt, ap);
	va_end(ap);
	return f;
}

/* @u in decimal at the end of @buf (LOG_VALUE_MAX bytes); returns its
 * start. */
static char *u64_text(uint64_t u, char *buf)
{
	char *p = buf + LOG_VALUE_MAX - 1;

	*p = '\0';
	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	return p;
}

/*
 * "%.2f" of @pct into @buf (LOG_VALUE_MAX bytes). PSI averages come from
 * the kernel with two decimals, so the double is the nearest one to a
 * number of hundredths, and those digits are what printf would print:
 * written directly. Anything else goes through snprintf().
 */
static const char *percent_text(double pct, char *buf)
{
	double hundredths = pct * 100;
	char digits[LOG_VALUE_MAX];
	const char *whole;
	uint64_t h;
	size_t n;

	/* Below 1e9 hundredths the product is exact to 1e-7: a distance
	 * under 1e-6 from a whole number is that number. */
	if (signbit(pct) || !(hundredths < 1e9))
		goto slow;
	h = (uint64_t)(hundredths + 0.5);
	if (fabs(hundredths - (double)h) > 1e-6)
		goto slow;
	whole = u64_text(h / 100, digits);
	n = strlen(whole);
	memcpy(buf, whole, n);
	buf[n++] = '.';
	buf[n++] = (char)('0' + h % 100 / 10);
	buf[n++] = (char)('0' + h % 10);
	buf[n] = '\0';
	return buf;
slow:
	snprintf(buf, LOG_VALUE_MAX, "%.2f", pct);
	return buf;
}

/* @f's value as text: its own, borrowed, or formatted into @buf
 * (LOG_VALUE_MAX bytes). Numbers never need escaping (*@plain). A
 * borrowed string is cut as log_field_set() cuts, to LOG_VALUE_MAX - 1
 * bytes. */
static const char *field_text(const struct log_field *f, char *buf, bool *plain)
{
	size_t n;
	char *p;

	*plain = true;
	switch (f->kind) {
	case LOG_VALUE_U64:
		return u64_text(f->v.u64, buf);
	case LOG_VALUE_INT:
		if (f->v.i64 >= 0)
			return u64_text((uint64_t)f->v.i64, buf);
		p = u64_text(-(uint64_t)f->v.i64, buf);
		*--p = '-';
		return p;
	case LOG_VALUE_PERCENT:
		return percent_text(f->v.pct, buf);
	case LOG_VALUE_STR:
		*plain = false;
		n = strnlen(f->v.str, LOG_VALUE_MAX);
		if (n < LOG_VALUE_MAX)
			return f->v.str;
		memcpy(buf, f->v.str, LOG_VALUE_MAX - 1);
		buf[LOG_VALUE_MAX - 1] = '\0';
		return buf;
	case LOG_VALUE_TEXT:
	default:
		*plain = false;
		return f->value;
	}
}

/* Printable ASCII only: what escape_text() passes unchanged, found
 * without decoding UTF-8 (names and reasons nearly always are). */
static bool plain_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/*
 * @s escaped into @buf of @len bytes, as escape_text(); a plain string is
 * copied (cut to fit, as escape_text() cuts between characters).
 * Returns the length written.
 */
static size_t escape_into(const char *s, bool plain, char *buf, size_t len)
{
	size_t n;

	if (!len)
		return 0;
	if (!plain && !plain_ascii(s))
		return strlen(escape_text(s, buf, len));
	n = strnlen(s, len - 1);
	memcpy(buf, s, n);
	buf[n] = '\0';
	return n;
}

static int sink_memory(int prio, enum log_msgid id,
		       const struct log_field *fields, size_t n,
		       const char *msg)
{
	struct log_entry *e;

	if (mem_n == mem_cap) {
		size_t cap = mem_cap ? mem_cap * 2 : 64;
		struct log_entry *p = realloc(mem_entries, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		mem_entries = p;
		mem_cap = cap;
	}
	e = &mem_entries[mem_n++];
	memset(e, 0, sizeof(*e));
	e->priority = prio;
	e->msgid = id;
	snprintf(e->message, sizeof(e->message), "%s", msg);
	for (size_t i = 0; i < n && i < LOG_ENTRY_FIELDS_MAX; i++) {
		char num[LOG_VALUE_MAX];
		bool plain;
		const char *text = field_text(&fields[i], num, &plain);

		snprintf(e->fields[i].key, LOG_KEY_MAX, "%s", fields[i].key);
		escape_into(text, plain, e->fields[i].value, LOG_VALUE_MAX);
		e->n_fields++;
	}
	return 0;
}

static int sink_stderr(int prio, const char *msg)
{
	const char *prefix = "";

	if (prio <= LOG_ERR)
		prefix = "error: ";
	else if (prio == LOG_WARNING)
		prefix = "warning: ";
	if (fprintf(stderr, "balancerd: %s%s\n", prefix, msg) < 0)
		return -EIO;
	return 0;
}

/* Bounded: a journal entry never needs more than this many fields. */
#define JOURNAL_IOV_MAX (LOG_ENTRY_FIELDS_MAX + 4)
/* One field's "KEY=value", at most (a longer value is cut). */
#define JOURNAL_FIELD_MAX (LOG_KEY_MAX + LOG_VALUE_MAX + 2)

static const char *const priority_fields[] = {
	"PRIORITY=0", "PRIORITY=1", "PRIORITY=2", "PRIORITY=3",
	"PRIORITY=4", "PRIORITY=5", "PRIORITY=6", "PRIORITY=7",
};
static const char identifier_field[] = "SYSLOG_IDENTIFIER=balancerd";

static struct iovec const_iovec(const char *s)
{
	return (struct iovec){(void *)(uintptr_t)s, strlen(s)};
}

/*
 * The entry as sd_journal_sendv()'s "KEY=value" items, each written once
 * into one buffer (the fixed ones pointed at): numbers are formatted
 * here, text fields escaped here, and nothing else is done per field.
 */
static int sink_journal(int prio, enum log_msgid id,
			const struct log_field *fields, size_t n,
			const char *msg)
{
	char buf[JOURNAL_IOV_MAX * JOURNAL_FIELD_MAX];
	char message[LOG_MESSAGE_MAX + 16];
	struct iovec iov[JOURNAL_IOV_MAX];
	size_t k = 0, off = 0, len = strlen(msg);
	int r;

	memcpy(message, "MESSAGE=", 8);
	memcpy(message + 8, msg, len + 1);
	iov[k++] = (struct iovec){message, 8 + len};
	if (prio >= 0 && prio <= LOG_DEBUG)
		iov[k++] = const_iovec(priority_fields[prio]);
	iov[k++] = const_iovec(identifier_field);
	if (log_msgid_string(id))
		iov[k++] = const_iovec(msgid_fields[id]);
	for (size_t i = 0; i < n && k < JOURNAL_IOV_MAX; i++, k++) {
		char num[LOG_VALUE_MAX], *item = buf + off;
		size_t klen = strnlen(fields[i].key, LOG_KEY_MAX - 1);
		bool plain;
		const char *text = field_text(&fields[i], num, &plain);

		memcpy(item, fields[i].key, klen);
		item[klen] = '=';
		len = klen + 1 +
		      escape_into(text, plain, item + klen + 1,
				  JOURNAL_FIELD_MAX - klen - 1);
		iov[k] = (struct iovec){item, len};
		off += len;
	}
	r = journal_sendv(iov, (int)k);
	if (r < 0)
		/* The journal is gone (shutdown, or not running): keep the
		 * entry readable rather than losing it. */
		return sink_stderr(prio, msg);
	return 0;
}

static int log_sendv(int prio, enum log_msgid id,
		     const struct log_field *fields, size_t n_fields,
		     const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));

static int log_sendv(int prio, enum log_msgid id,
		     const struct log_field *fields, size_t n_fields,
		     const char *fmt, va_list ap)
{
	char raw[LOG_MESSAGE_MAX], msg[LOG_MESSAGE_MAX];

	if (prio > log_max_level)
		return 0;
	/* Names of VMs, cgroups and files end up in messages: escaped here,
	 * once for every sink, no line can be forged or a terminal driven. */
	vsnprintf(raw, sizeof(raw), fmt, ap);
	escape_into(raw, false, msg, sizeof(msg));
	switch (log_target) {
	case LOG_TARGET_MEMORY:
		return sink_memory(prio, id, fields, n_fields, msg);
	case LOG_TARGET_JOURNAL:
		return sink_journal(prio, id, fields, n_fields, msg);
	default:
		return sink_stderr(prio, msg);
	}
}

int log_send(int prio, enum log_msgid id, const struct log_field *fields,
	     size_t n_fields, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = log_sendv(prio, id, fields, n_fields, fmt, ap);
	va_end(ap);
	return r;
}

int log_full(int prio, int err, const char *fmt, ...)
{
	struct log_field f[1];
	char msg[448];
	va_list ap;
	size_t n = 0;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (err < 0) {
		log_field_int(&f[n++], "ERRNO", -err);
		log_send(prio, MSGID_NONE, f, n, "%s: %s", msg, strerror(-err));
		return err;
	}
	log_send(prio, MSGID_NONE, NULL, 0, "%s", msg);
	return 0;
}

size_t log_memory_count(void)
{
	return mem_n;
}

const struct log_entry *log_memory_get(size_t i)
{
	return i < mem_n ? &mem_entries[i] : NULL;
}

const char *log_entry_field(const struct log_entry *e, const char *key)
{
	for (size_t i = 0; i < e->n_fields; i++)
		if (strcmp(e->fields[i].key, key) == 0)
			return e->fields[i].value;
	return NULL;
}

const struct log_entry *log_memory_find(enum log_msgid id, size_t from,
					size_t *idx)
{
	for (size_t i = from; i < mem_n; i++) {
		if (mem_entries[i].msgid == id) {
			if (idx)
				*idx = i;
			return &mem_entries[i];
		}
	}
	return NULL;
}

void log_memory_clear(void)
{
	free(mem_entries);
	mem_entries = NULL;
	mem_n = mem_cap = 0;
}
