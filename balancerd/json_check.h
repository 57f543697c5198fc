/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Checking jansson values against a schema, with errors that say where
 * (file:line:column, JSON path) and what was expected and found. Shared by
 * the policy loader (policy.c) and the daemon settings (config.c).
 *
 * A checker walks the document keeping the current JSON path; every error
 * it records is placed with json_locate() on the raw text.
 *
 * The getters share one convention: they return 1 when @key is present and
 * valid (the result is stored), 0 when @key is absent (the result is left
 * alone, so it may hold the default), and -1 when it is present but wrong
 * (an error is recorded, the result is left alone).
 */
#ifndef BALANCERD_JSON_CHECK_H
#define BALANCERD_JSON_CHECK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json_locate.h"
#include "units.h"

/* One problem found while loading; a load collects all of them. */
struct policy_error {
	char file[256];
	int line;	   /* 0 when unknown */
	int column;	   /* 0 when unknown */
	char path[128];	   /* JSON path, e.g. "classes[1].floor" */
	char message[256]; /* what was expected and what was found */
};

struct policy_errors {
	struct policy_error *items;
	size_t n;
};

/* Format one error as "file:line:column: path: message". */
void policy_error_format(const struct policy_error *e, char *buf, size_t len);
void policy_errors_free(struct policy_errors *errs);

#define JCHECK_MAX_DEPTH 8

struct jcheck {
	const char *file;
	const char *text; /* raw text of @file, for positions */
	size_t len;
	struct policy_errors *errs;
	struct json_step steps[JCHECK_MAX_DEPTH];
	size_t depth;
	int enomem; /* -ENOMEM once an allocation failed */
	size_t n_errors;
};

/* A file with more errors than this is not worth reading further: the
 * rest are dropped, and one last error says so. */
#define JCHECK_MAX_ERRORS 50

/*
 * Append an error. @line 0 means "position unknown". Returns 0 or
 * -ENOMEM (the error is then lost).
 */
int policy_errors_add(struct policy_errors *errs, const char *file, int line,
		      int column, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/*
 * Read @path whole into a NUL-terminated buffer (at most JCHECK_MAX_FILE
 * bytes). Returns 0, or a negative errno with an error recorded in @errs.
 */
#define JCHECK_MAX_FILE (1024 * 1024)
int jcheck_read_file(const char *path, char **ret, size_t *ret_len,
		     struct policy_errors *errs);

/*
 * Parse @text as JSON (duplicate keys rejected). On a syntax error, records
 * "file:line:column: syntax error: ..." with the column of the start of the
 * offending token and returns NULL.
 */
json_t *jcheck_parse(const char *file, const char *text, size_t len,
		     struct policy_errors *errs);

void jcheck_init(struct jcheck *c, const char *file, const char *text,
		 size_t len, struct policy_errors *errs);
void jcheck_push_key(struct jcheck *c, const char *key);
void jcheck_push_index(struct jcheck *c, size_t index);
void jcheck_pop(struct jcheck *c);

/*
 * Record an error at the current path. @at_key: place it on the member's
 * key (unknown keys) rather than on its value.
 */
void jcheck_error(struct jcheck *c, bool at_key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The current path with one more key (for "missing key" errors). */
void jcheck_error_missing(struct jcheck *c, const char *key);

/* "\"abc\"", "5", "1.5", "true", "null", "an object", "a list". */
const char *jcheck_describe(const json_t *v, char *buf, size_t len);

/* Levenshtein distance, at most @cap (cheap early exit). */
size_t edit_distance(const char *a, const char *b, size_t cap);

/*
 * The key in @known (NULL-terminated) an admin most likely meant by @key,
 * or NULL when none is close.
 */
const char *nearest_key(const char *key, const char *const *known);

/*
 * Require @v to be an object (recording "expected @what") and report every
 * member not in @known, suggesting the nearest. Returns true if @v is an
 * object (even with unknown keys: the known ones are still checked).
 */
bool jcheck_object(struct jcheck *c, const json_t *v, const char *what,
		   const char *const *known);

int jcheck_string(struct jcheck *c, const json_t *obj, const char *key,
		  char *buf, size_t len);
int jcheck_bool(struct jcheck *c, const json_t *obj, const char *key,
		bool *ret);
int jcheck_int(struct jcheck *c, const json_t *obj, const char *key,
	       long long min, long long max, long long *ret);
/* [@min, @max]; @min_exclusive makes it (@min, @max]. */
int jcheck_number(struct jcheck *c, const json_t *obj, const char *key,
		  double min, bool min_exclusive, double max, double *ret);
int jcheck_duration(struct jcheck *c, const json_t *obj, const char *key,
		    usec_t min, usec_t max, usec_t *ret);
/* A size "512M" or, if @allow_percent, "10%". */
int jcheck_size_spec(struct jcheck *c, const json_t *obj, const char *key,
		     bool allow_percent, struct size_spec *ret);
/* Bytes per second: "64M" or "64M/s"; above 0. */
int jcheck_rate(struct jcheck *c, const json_t *obj, const char *key,
		uint64_t *ret);
/*
 * A non-empty list of non-empty strings, each at most @max_len bytes.
 * On success *ret is a newly allocated array of @n strings (free with
 * strv_free()).
 */
int jcheck_string_list(struct jcheck *c, const json_t *obj, const char *key,
		       size_t max_len, char ***ret, size_t *n);

void strv_free(char **v, size_t n);

/* "10%" or "512M" for messages. */
char *size_spec_format(const struct size_spec *s, char *buf, size_t len);

#endif /* BALANCERD_JSON_CHECK_H */
