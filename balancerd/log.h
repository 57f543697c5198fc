/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Logging: one API, three sinks.
 *
 *   journal  sd_journal_sendv() with structured fields and a MESSAGE_ID
 *   stderr   one readable line per entry ("vm3 reclaim 64M (done 60M) ...")
 *   memory   entries kept in memory, for tests to read back
 *
 * Every entry has a priority (syslog LOG_*), a MESSAGE (the readable line,
 * the same on every sink), an optional MESSAGE_ID and KEY=value fields.
 * The logger is process-wide: the daemon has one log, and threading a
 * handle through every acquire/act function would only add noise.
 */
#ifndef BALANCERD_LOG_H
#define BALANCERD_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <syslog.h>

enum log_target {
	LOG_TARGET_AUTO = 0, /* journal if stderr is connected to it */
	LOG_TARGET_JOURNAL,
	LOG_TARGET_STDERR,
	LOG_TARGET_MEMORY, /* tests */
	_LOG_TARGET_MAX,
};

/*
 * Message types, each with a fixed 128-bit MESSAGE_ID (see
 * etc/catalog/balancerd.catalog and docs/logging.md).
 */
enum log_msgid {
	MSGID_NONE = 0, /* plain diagnostics: no MESSAGE_ID field */
	MSGID_ACTION,
	MSGID_MODE_CHANGE,
	MSGID_SUMMARY,
	MSGID_RELOAD_OK,
	MSGID_RELOAD_FAILED,
	MSGID_VM_APPEARED,
	MSGID_VM_VANISHED,
	MSGID_VM_UNMATCHED,
	MSGID_DRIVER_ABSENT,
	_MSGID_MAX,
};

/* The 32 hex digit id of @id, or NULL for MSGID_NONE. */
const char *log_msgid_string(enum log_msgid id);

/* "auto", "journal", "stderr", "memory" <-> enum. Returns 0 or -EINVAL. */
int log_target_from_string(const char *s, enum log_target *ret);
const char *log_target_name(enum log_target t);

/*
 * Select the sink. LOG_TARGET_AUTO resolves now: journal when
 * $JOURNAL_STREAM names the device:inode of our stderr (as systemd
 * documents for services), else stderr. Returns the resolved target.
 * Switching away from the memory sink frees its entries.
 */
enum log_target log_open(enum log_target t);
enum log_target log_get_target(void);

/* Entries less important than @prio (LOG_DEBUG > LOG_INFO ...) are
 * dropped. Default LOG_INFO. */
void log_set_max_level(int prio);

/*
 * Messages and field values are escaped (escape.h) by every sink: a
 * newline or a terminal control in a VM name cannot forge a line.
 */
#define LOG_MESSAGE_MAX 512

/* One KEY=value field. Keys are journal field names (A-Z, 0-9, _). */
#define LOG_KEY_MAX   32
#define LOG_VALUE_MAX 256

/*
 * How a field holds its value. Only the journal and memory sinks show
 * fields, so numbers and borrowed strings are kept as they are and turned
 * into text by those sinks alone: an action's twenty fields cost nothing
 * on stderr, or when the entry's priority is filtered out.
 */
enum log_value_kind {
	LOG_VALUE_TEXT = 0, /* @value, printf-formatted by log_field_set() */
	LOG_VALUE_STR,	    /* @v.str, borrowed until the entry is sent */
	LOG_VALUE_U64,	    /* @v.u64 in decimal */
	LOG_VALUE_INT,	    /* @v.i64 in decimal */
	LOG_VALUE_PERCENT,  /* @v.pct as "%.2f" */
};

struct log_field {
	const char *key;
	enum log_value_kind kind;
	union {
		const char *str;
		uint64_t u64;
		int64_t i64;
		double pct;
	} v;
	char value[LOG_VALUE_MAX]; /* LOG_VALUE_TEXT only */
};

/*
 * Emit one entry. @fields may be NULL when @n_fields is 0. The message is
 * printf-formatted. Returns 0, or a negative errno from the sink (the
 * entry is then lost; nothing else can be done with it).
 */
int log_send(int prio, enum log_msgid id, const struct log_field *fields,
	     size_t n_fields, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Plain diagnostics. Return @err when it is negative, for
 * "return log_error_errno(r, ...)" one-liners, else 0. */
int log_full(int prio, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define log_debug(...)		    log_full(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...)		    log_full(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...)		    log_full(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...)	    log_full(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...)		    log_full(LOG_ERR, 0, __VA_ARGS__)
#define log_error_errno(err, ...)   log_full(LOG_ERR, (err), __VA_ARGS__)
#define log_warning_errno(err, ...) log_full(LOG_WARNING, (err), __VA_ARGS__)

/* Fill @f with @key and a printf-formatted value; returns @f. */
struct log_field *log_field_set(struct log_field *f, const char *key,
				const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Fields formatted only by a sink that shows them (see log_value_kind).
 * log_field_str() borrows @s (NULL is ""): it must outlive log_send(). */
static inline void log_field_str(struct log_field *f, const char *key,
				 const char *s)
{
	f->key = key;
	f->kind = LOG_VALUE_STR;
	f->v.str = s ? s : "";
}

static inline void log_field_u64(struct log_field *f, const char *key,
				 uint64_t u)
{
	f->key = key;
	f->kind = LOG_VALUE_U64;
	f->v.u64 = u;
}

static inline void log_field_int(struct log_field *f, const char *key,
				 int64_t i)
{
	f->key = key;
	f->kind = LOG_VALUE_INT;
	f->v.i64 = i;
}

static inline void log_field_percent(struct log_field *f, const char *key,
				     double pct)
{
	f->key = key;
	f->kind = LOG_VALUE_PERCENT;
	f->v.pct = pct;
}

/*
 * The journal sink's last step, sd_journal_sendv() unless replaced: tests
 * read an entry's exact journal fields back, and the tick benchmark
 * measures the journal's formatting without a journald. NULL restores
 * sd_journal_sendv(). The iovecs are "KEY=value" items, valid during the
 * call only.
 */
typedef int (*log_journal_sendv_fn)(const struct iovec *iov, int n);
void log_set_journal_sendv(log_journal_sendv_fn fn);

/* ---- memory sink ------------------------------------------------------ */

#define LOG_ENTRY_FIELDS_MAX 24

struct log_entry {
	int priority;
	enum log_msgid msgid;
	char message[LOG_MESSAGE_MAX];
	size_t n_fields;
	struct {
		char key[LOG_KEY_MAX];
		char value[LOG_VALUE_MAX];
	} fields[LOG_ENTRY_FIELDS_MAX];
};

size_t log_memory_count(void);
/* Entry @i (0 = oldest), or NULL if out of range. */
const struct log_entry *log_memory_get(size_t i);
/* The value of @key in @e, or NULL. */
const char *log_entry_field(const struct log_entry *e, const char *key);
/* The first entry with @id after index @from, or NULL; sets *@idx. */
const struct log_entry *log_memory_find(enum log_msgid id, size_t from,
					size_t *idx);
void log_memory_clear(void);

#endif /* BALANCERD_LOG_H */
