/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal test harness for the in-guest suites.
 *
 * Why not cmocka here: these programs are linked statically into a busybox
 * initramfs, and each test must run in a forked child so that one crashing
 * or leaking test cannot take the others (or the partition fds they hold)
 * with it. That is twenty lines, not a library.
 *
 * Usage:
 *	TEST(map_rejects_zero_size) { ... CHECK(cond); CHECK_EQ(a, b); ... }
 *	int main(void) { return run_tests(); }
 *
 * Output: "ok <name>" or "not ok <name>: <file>:<line>: <what>" per test,
 * then the closing line "N passed, N failed". Exit status 1 on any failure.
 */
#ifndef OVCMEM_TEST_HARNESS_H
#define OVCMEM_TEST_HARNESS_H

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct test_case {
	const char *name;
	void (*fn)(void);
	unsigned int timeout_s;
};

#define HARNESS_MAX_TESTS 128
/* A test that runs past this is killed and counted as failed. */
#define HARNESS_DEFAULT_TIMEOUT_S 120

static struct test_case harness_tests[HARNESS_MAX_TESTS];
static int harness_ntests;

static inline void harness_register(const char *name, void (*fn)(void),
				    unsigned int timeout_s)
{
	if (harness_ntests == HARNESS_MAX_TESTS) {
		fprintf(stderr, "harness: too many tests\n");
		exit(2);
	}
	harness_tests[harness_ntests].name = name;
	harness_tests[harness_ntests].fn = fn;
	harness_tests[harness_ntests].timeout_s = timeout_s;
	harness_ntests++;
}

#define TEST_TIMEOUT(name, secs)                                        \
	static void test_##name(void);                                  \
	__attribute__((constructor)) static void register_##name(void)  \
	{                                                               \
		harness_register(#name, test_##name, secs);             \
	}                                                               \
	static void test_##name(void)

#define TEST(name) TEST_TIMEOUT(name, HARNESS_DEFAULT_TIMEOUT_S)

/* Fail the running test (the child) with a message. */
#define FAIL(fmt, ...)                                                  \
	do {                                                            \
		printf("not ok %s: %s:%d: " fmt "\n", harness_current,  \
		       __FILE__, __LINE__, ##__VA_ARGS__);              \
		fflush(stdout);                                         \
		_exit(1);                                               \
	} while (0)

#define CHECK(cond)                                                     \
	do {                                                            \
		if (!(cond))                                            \
			FAIL("CHECK(%s) (errno %d: %s)", #cond, errno,  \
			     strerror(errno));                          \
	} while (0)

#define CHECK_EQ(a, b)                                                  \
	do {                                                            \
		long long _a = (long long)(a), _b = (long long)(b);     \
		if (_a != _b)                                           \
			FAIL("%s == %s: %lld != %lld", #a, #b, _a, _b); \
	} while (0)

/* An ioctl (or syscall) that must fail with exactly this errno. */
#define CHECK_ERRNO(call, err)                                          \
	do {                                                            \
		errno = 0;                                              \
		long _r = (long)(call);                                 \
		if (_r != -1 || errno != (err))                         \
			FAIL("%s: want -1/%s, got %ld/%s", #call,       \
			     strerror(err), _r, strerror(errno));       \
	} while (0)

static const char *harness_current = "?";

static inline int run_tests(void)
{
	int passed = 0, failed = 0, i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < harness_ntests; i++) {
		struct test_case *t = &harness_tests[i];
		int status;
		pid_t pid;

		harness_current = t->name;
		pid = fork();
		if (pid == 0) {
			alarm(t->timeout_s);
			t->fn();
			printf("ok %s\n", t->name);
			fflush(stdout);
			_exit(0);
		}
		if (pid < 0 || waitpid(pid, &status, 0) != pid) {
			printf("not ok %s: fork/wait failed\n", t->name);
			failed++;
			continue;
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			passed++;
		} else {
			if (WIFSIGNALED(status))
				printf("not ok %s: killed by signal %d%s\n",
				       t->name, WTERMSIG(status),
				       WTERMSIG(status) == SIGALRM ?
					       " (timeout)" : "");
			failed++;
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

#endif /* OVCMEM_TEST_HARNESS_H */
