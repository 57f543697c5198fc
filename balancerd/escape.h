/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One rule for every externally supplied string (a VM name, a cgroup
 * path, a file name) on its way to a log line or a terminal: C-style
 * escapes, as journalctl and systemd-escape show what they cannot print.
 *
 *   \a \b \t \n \v \f \r   those control characters
 *   \xNN                   any other byte below 0x20, DEL (0x7f), the
 *                          C1 controls U+0080..U+009F, and every byte
 *                          that is not part of valid UTF-8
 *
 * Valid, printable UTF-8 passes unchanged, and so does a backslash: a
 * cgroup path keeps its systemd escaping ("machine-qemu\x2d1.scope")
 * readable. The result is therefore for eyes, not a reversible encoding:
 * the state file carries the exact bytes where JSON allows them.
 * Nothing escaped can end a line, move the cursor or start a terminal
 * control sequence.
 */
#ifndef BALANCERD_ESCAPE_H
#define BALANCERD_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>

/* The most bytes one input byte becomes ("\xNN"). */
#define ESCAPE_GROWTH 4

/*
 * Escape @s into @buf of @len bytes (always NUL-terminated when @len >
 * 0). An escape that does not fit is left out whole, never cut in half;
 * nor is a UTF-8 sequence. Returns @buf.
 */
char *escape_text(const char *s, char *buf, size_t len);

/* The same for @n bytes of @s (which may hold NULs: shown as \x00). */
char *escape_bytes(const char *s, size_t n, char *buf, size_t len);

/* The most bytes one character (a UTF-8 sequence) becomes. */
#define ESCAPE_SEQ_MAX (ESCAPE_GROWTH * 4)

/*
 * The step of escape_bytes(), for encoders that add their own rule on
 * top (metrics labels): escape the character at @s (@n > 0 bytes left)
 * into @out, of ESCAPE_SEQ_MAX + 1 bytes, NUL-terminated, its length in
 * *@out_len. Returns how many bytes of @s it took (1 to 4).
 */
size_t escape_next(const char *s, size_t n, char *out, size_t *out_len);

/* Whether escape_text(@s) would return @s unchanged. */
bool escape_is_clean(const char *s);

/* Whether @s is valid UTF-8 (what JSON strings must be). */
bool utf8_is_valid(const char *s);

/* escape_text() into a malloc'ed string, or NULL on -ENOMEM. */
char *escape_dup(const char *s);

#endif /* BALANCERD_ESCAPE_H */
