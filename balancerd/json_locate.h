/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where in a JSON text a value sits, for error messages.
 *
 * jansson parses into values that carry no position, so a semantic error
 * ("classes[1].floor is above the ceiling") cannot say line:column by
 * itself. The text was valid JSON (jansson accepted it), so a small walker
 * that only skips values can follow a path through the raw text and report
 * where the key and the value start. See docs/policies.md, "Errors".
 */
#ifndef BALANCERD_JSON_LOCATE_H
#define BALANCERD_JSON_LOCATE_H

#include <stddef.h>

/* One step of a path: an object member (@key != NULL) or a list element. */
struct json_step {
	const char *key;
	size_t index;
};

/* 1-based; a column counts UTF-8 characters, as jansson's columns do. */
struct json_pos {
	int line;
	int column;
};

/*
 * Follow @steps through @text (@len bytes, valid JSON). Fills @key_pos with
 * where the last step's key string starts (its opening quote; for a list
 * element or an empty path, the value's start) and @value_pos with where
 * its value starts. Either may be NULL.
 * Returns 0, or -ENOENT if the path does not exist in the text, or
 * -EINVAL if the text is not valid JSON where the walk went.
 */
int json_locate(const char *text, size_t len, const struct json_step *steps,
		size_t n_steps, struct json_pos *key_pos,
		struct json_pos *value_pos);

/*
 * The start of each element of the list at @steps, in one pass (asking
 * json_locate() for each in turn is quadratic in the list's length): up
 * to @n positions into @ret. Returns how many were found, or a negative
 * errno as json_locate().
 */
int json_locate_elements(const char *text, size_t len,
			 const struct json_step *steps, size_t n_steps,
			 struct json_pos *ret, size_t n);

/* Line and column of byte @offset of @text (clamped to @len). */
struct json_pos json_pos_of_offset(const char *text, size_t len, size_t offset);

/*
 * Write @steps as a path for humans, "classes[1].floor"; a key that is
 * empty or holds '.', '[', ']' or '"' is written ["like.this"]. Truncates to
 * @len. Returns @buf.
 */
char *json_path_format(const struct json_step *steps, size_t n_steps, char *buf,
		       size_t len);

#endif /* BALANCERD_JSON_LOCATE_H */
