/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the libFuzzer targets (fuzz_*.c): each target feeds one
 * input to one parser or loader of balancerd, built with clang,
 * -fsanitize=fuzzer,address,undefined. See fuzz/README.md.
 */
#ifndef FUZZ_FUZZ_H
#define FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* The input as a NUL-terminated string (malloc'ed; NULs inside end it
 * early, as they would for a C string read from a file). */
char *fuzz_string(const uint8_t *data, size_t size);

/*
 * The input as the contents of a file, for loaders that take a path:
 * a memfd (the same one each time), named "/proc/self/fd/N" in @path.
 * Returns 0, or -1 when it cannot be written.
 */
int fuzz_file(const uint8_t *data, size_t size, char *path, size_t len);

#endif /* FUZZ_FUZZ_H */
