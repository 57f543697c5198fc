// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
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
static const char *const msgids[_MSGID_MAX] = {
	[MSGID_NONE] = NULL,
	[MSGID_ACTION] = "d9acf7c106354fe19ad810ff4fd2604e",
	[MSGID_MODE_CHANGE] = "f24da8003b614e3cb182cca7d18d7b9f",
	[MSGID_SUMMARY] = "c6858575fdfe42299ba033c71e72a6b7",
	[MSGID_RELOAD_OK] = "e6e7509965ad4dfbbbeca277a8c2270f",
	[MSGID_RELOAD_FAILED] = "357519801c06443da6ea19b7840513f3",
	[MSGID_VM_APPEARED] = "e36e87c08b7145e3966b09910843d4bd",
	[MSGID_VM_VANISHED] = "337830349110481b862554fb96d6f5a1",
	[MSGID_VM_UNMATCHED] = "9c71c0a7b4d24a4ab12150a175911218",
	[MSGID_DRIVER_ABSENT] = "11cd6444f79541e49f1c31a425355d2d",
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
	va_start(ap, fmt);
	vsnprintf(f->value, sizeof(f->value), fmt, ap);
	va_end(ap);
	return f;
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
		snprintf(e->fields[i].key, LOG_KEY_MAX, "%s", fields[i].key);
		escape_text(fields[i].value, e->fields[i].value, LOG_VALUE_MAX);
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

static int sink_journal(int prio, enum log_msgid id,
			const struct log_field *fields, size_t n,
			const char *msg)
{
	char buf[JOURNAL_IOV_MAX][LOG_KEY_MAX + LOG_VALUE_MAX + 2];
	char message[LOG_MESSAGE_MAX + 16];
	struct iovec iov[JOURNAL_IOV_MAX];
	size_t k = 0;
	int r;

	snprintf(message, sizeof(message), "MESSAGE=%s", msg);
	iov[k++] = (struct iovec){message, strlen(message)};
	snprintf(buf[k], sizeof(buf[k]), "PRIORITY=%d", prio);
	iov[k] = (struct iovec){buf[k], strlen(buf[k])};
	k++;
	snprintf(buf[k], sizeof(buf[k]), "SYSLOG_IDENTIFIER=balancerd");
	iov[k] = (struct iovec){buf[k], strlen(buf[k])};
	k++;
	if (log_msgid_string(id)) {
		snprintf(buf[k], sizeof(buf[k]), "MESSAGE_ID=%s",
			 log_msgid_string(id));
		iov[k] = (struct iovec){buf[k], strlen(buf[k])};
		k++;
	}
	for (size_t i = 0; i < n && k < JOURNAL_IOV_MAX; i++, k++) {
		char value[LOG_VALUE_MAX * ESCAPE_GROWTH];

		snprintf(buf[k], sizeof(buf[k]), "%s=%s", fields[i].key,
			 escape_text(fields[i].value, value, sizeof(value)));
		iov[k] = (struct iovec){buf[k], strlen(buf[k])};
	}
	r = sd_journal_sendv(iov, (int)k);
	if (r < 0)
		/* The journal is gone (shutdown, or not running): keep the
		 * entry readable rather than losing it. */
		return sink_stderr(prio, msg);
	return 0;
}

int log_sendv(int prio, enum log_msgid id, const struct log_field *fields,
	      size_t n_fields, const char *fmt, va_list ap)
{
	char raw[LOG_MESSAGE_MAX], msg[LOG_MESSAGE_MAX];

	if (prio > log_max_level)
		return 0;
	/* Names of VMs, cgroups and files end up in messages: escaped here,
	 * once for every sink, no line can be forged or a terminal driven. */
	vsnprintf(raw, sizeof(raw), fmt, ap);
	escape_text(raw, msg, sizeof(msg));
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
		log_field_set(&f[n++], "ERRNO", "%d", -err);
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
