# ovcmem + balancerd: the one entry point.
#
#   make            build the daemon, balancerctl, tools and the kernel module
#                   (for every installed Debian kernel, or KVER=/KDIR=)
#   make check      install what is missing, then run every test suite
#                   (tests/run-all.sh): unit (plain and ASan+UBSan),
#                   valgrind, fuzz, lint, in-kernel (QEMU, each kernel),
#                   rig, end to end (the packaged unit), launcher, pkg (the
#                   .debs: lintian, DKMS, install and purge, node_exporter);
#                   one closing "N passed, N failed"
#   make demo       the main job on a fresh machine (see README.md)
#   make install    install daemon, tools, unit, config (DESTDIR, PREFIX)
#   make deb        the Debian packages, into build/deb/ (docs/packaging.md)
#
# Variables: KVER=<version> or KDIR=<build dir> pick one kernel; WERROR=
# (empty) drops -Werror for local experiments; V=1 is verbose.

PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
BINDIR ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
UNITDIR ?= /etc/systemd/system
DESTDIR ?=

B := build
CC ?= cc
WERROR ?= -Werror
PKGS := jansson libsystemd
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# The version is set in one place, debian/changelog's first entry; the
# packages and `balancerd --version` both say it.
VERSION := $(shell sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog)
CFLAGS_BASE := -std=gnu11 -g -pthread -Wall -Wextra $(WERROR) -D_GNU_SOURCE \
	-Iinclude/uapi -Ibalancerd -DBALANCERD_VERSION='"$(VERSION)"'
CFLAGS_OPT := -O2
SAN_FLAGS := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all

# balancerd/: every .c but the two programs forms the library that the
# programs, the unit tests and the benchmarks link.
PROGRAM_SRCS := balancerd/main.c balancerd/balancerctl.c
LIB_SRCS := $(filter-out $(PROGRAM_SRCS),$(wildcard balancerd/*.c))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_HELPERS := $(filter-out $(UNIT_SRCS),$(wildcard tests/unit/*.c))
# tools/<name>/*.c builds one program build/<name> each (e.g. guestsim).
TOOL_DIRS := $(patsubst %/,%,$(dir $(wildcard tools/*/main.c)))
TOOLS := $(patsubst tools/%,$(B)/%,$(TOOL_DIRS))

# One build flavour: $(1) = output dir, $(2) = extra CFLAGS.
define flavour
$(1)/obj/%.o: %.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS_BASE) $(2) $$(CPPFLAGS) $$(CFLAGS) $$(PKG_CFLAGS) -MMD -MP -c -o $$@ $$<

$(1)/libbalancer.a: $$(patsubst %.c,$(1)/obj/%.o,$$(LIB_SRCS))
	@mkdir -p $$(dir $$@)
	rm -f $$@ && ar rcs $$@ $$^

$(1)/balancerd: $(1)/obj/balancerd/main.o $(1)/libbalancer.a
	$$(CC) $(2) $$(LDFLAGS) -o $$@ $$^ $$(PKG_LIBS) -lm -pthread

$(1)/balancerctl: $(1)/obj/balancerd/balancerctl.o $(1)/libbalancer.a
	$$(CC) $(2) $$(LDFLAGS) -o $$@ $$^ $$(PKG_LIBS) -lm -pthread

# They print the version.
$(1)/obj/balancerd/main.o $(1)/obj/balancerd/balancerctl.o: debian/changelog

$(1)/tests/%: $(1)/obj/tests/unit/%.o $$(patsubst %.c,$(1)/obj/%.o,$$(UNIT_HELPERS)) $(1)/libbalancer.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ $$(PKG_LIBS) -lcmocka -lm -pthread

-include $$(shell find $(1)/obj -name '*.d' 2>/dev/null)
endef

$(eval $(call flavour,$(B),$(CFLAGS_OPT)))
$(eval $(call flavour,$(B)/asan,$(SAN_FLAGS)))

UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRCS))
UNIT_BINS_ASAN := $(patsubst tests/unit/%.c,$(B)/asan/tests/%,$(UNIT_SRCS))

.PHONY: all userspace driver unit check check-unit check-vm check-e2e \
	demo install install-driver deps lint format clean bench deb \
	fuzz fuzz-build check-fuzz
.SECONDARY:

all: userspace driver

userspace: $(B)/balancerd $(B)/balancerctl $(TOOLS)

define tool_rule
$(B)/$(1): $$(patsubst %.c,$(B)/obj/%.o,$$(wildcard tools/$(1)/*.c)) $(B)/libbalancer.a
	$$(CC) -o $$@ $$^ $$(PKG_LIBS) -lm -pthread
endef
$(foreach t,$(TOOL_DIRS),$(eval $(call tool_rule,$(notdir $(t)))))

# The module, for each installed kernel (or the one KVER/KDIR names).
driver:
	tools/build-kmod.sh $(if $(KVER),--kver $(KVER)) $(if $(KDIR),--kdir $(KDIR))

unit: $(UNIT_BINS) $(UNIT_BINS_ASAN)

deps:
	tools/install-deps.sh

# Everything, with one closing line. Suites: tests/run-all.sh --help.
check: deps
	$(MAKE) userspace unit fuzz-build
	tests/run-all.sh $(if $(KVER),--kver $(KVER))

check-unit: userspace unit
	tests/run-all.sh --only unit

# libFuzzer targets (fuzz/fuzz_*.c), each linked with the library built by
# clang under ASan+UBSan. `make check` runs each FUZZ_RUNS times from its
# seed corpus (a regression gate); `make fuzz` runs each for FUZZ_SECONDS.
FUZZ_CC ?= clang
FUZZ_RUNS ?= 20000
FUZZ_SECONDS ?= 60
FUZZ_FLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all
FUZZ_TARGETS := $(patsubst fuzz/%.c,$(B)/fuzz/%,$(wildcard fuzz/fuzz_*.c))

$(B)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CFLAGS_BASE) -Ifuzz $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link \
		$(PKG_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/fuzz/fuzz_%: $(B)/fuzz/obj/fuzz/fuzz_%.o $(B)/fuzz/obj/fuzz/fuzz.o \
		$(patsubst %.c,$(B)/fuzz/obj/%.o,$(LIB_SRCS))
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS) -lm -pthread

-include $(shell find $(B)/fuzz/obj -name '*.d' 2>/dev/null)

fuzz-build: $(FUZZ_TARGETS)

check-fuzz: fuzz-build
	tests/run-all.sh --only fuzz

fuzz: fuzz-build
	fuzz/run.sh --seconds $(FUZZ_SECONDS)

check-vm:
	tests/run-all.sh --only vm $(if $(KVER),--kver $(KVER)) $(if $(SUITE),--suite $(SUITE))

check-e2e: userspace
	tests/run-all.sh --only e2e $(if $(KVER),--kver $(KVER))

lint:
	tools/lint-kernel.sh
	tools/lint-userspace.sh

format:
	clang-format -i balancerd/*.[ch] tests/unit/*.[ch] $(wildcard tools/*/*.[ch] bench/*.[ch] fuzz/*.[ch])

bench: userspace
	bench/run.sh

demo: deps
	$(MAKE) all
	tests/e2e/demo.sh

install: userspace
	install -D -m 0755 $(B)/balancerd $(DESTDIR)$(SBINDIR)/balancerd
	install -D -m 0755 $(B)/balancerctl $(DESTDIR)$(BINDIR)/balancerctl
	tools/install-files.sh "$(DESTDIR)" "$(SYSCONFDIR)" "$(UNITDIR)" "$(SBINDIR)"

# balancerd, ovcmem-dkms and ovcmem-dev .debs in build/deb/, built from a
# copy of the tree (the source tree stays clean).
deb:
	tools/build-deb.sh

# The module, for a real host: build against KVER's headers (default: every
# installed Debian kernel), install under /lib/modules/<v>/updates, depmod.
install-driver: driver
	for v in $(or $(KVER),$(shell tools/kernels.sh)); do \
		install -D -m 0644 $(B)/kmod/$$v/driver/ovcmem.ko \
			$(DESTDIR)/lib/modules/$$v/updates/ovcmem.ko && \
		depmod $(if $(DESTDIR),-b $(DESTDIR)) $$v || exit 1; \
	done

clean:
	rm -rf $(B)
