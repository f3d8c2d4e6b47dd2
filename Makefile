# tern - GNU Makefile. `make help` lists the targets.

PREFIX     ?= /usr/local
DESTDIR    ?=
VERSION    := 0.1.0
CC         ?= cc
FUZZ_CC    ?= clang
FUZZ_SECONDS ?= 30
BUILD      := build

PKGS       := libsecp256k1 libcrypto lmdb libconfig zlib libuv
TEST_PKGS  := criterion jansson

# `make deps` (and every build) installs missing Debian packages first.
DEPS_STAMP := $(BUILD)/.deps
DEPS_TEST_STAMP := $(BUILD)/.deps-test

OPT        ?= -O2
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -g $(OPT) -Wall -Wextra -Wshadow \
	-Wno-unused-parameter -Iinclude -Isrc \
	-DTERN_VERSION='"$(VERSION)"'
ifeq ($(CI),true)
CFLAGS_BASE += -Werror
endif
ifeq ($(WERROR),1)
CFLAGS_BASE += -Werror
endif

pc_cflags = $(shell pkg-config --cflags $(1) 2>/dev/null)
pc_libs   = $(shell pkg-config --libs $(1) 2>/dev/null)

LIB_SRCS   := $(sort $(wildcard src/*/*.c))
SRV_SRCS   := $(sort $(wildcard server/*.c))
UNIT_SRCS  := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRCS  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
BENCH_SRCS := $(sort $(wildcard bench/bench_*.c))
EXAMPLE_SRCS := $(sort $(wildcard examples/*.c))

LIBS        = $(call pc_libs,$(PKGS)) -lpthread
TEST_LIBS   = $(call pc_libs,$(TEST_PKGS))

# ---- regular build (build/) ------------------------------------------------
OBJ      := $(BUILD)/obj
LIB_OBJS := $(LIB_SRCS:%.c=$(OBJ)/%.o)
SRV_OBJS := $(SRV_SRCS:%.c=$(OBJ)/%.o)

# ---- sanitizer build (build/asan/) -----------------------------------------
ASAN     := $(BUILD)/asan
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
ASAN_LIB_OBJS := $(LIB_SRCS:%.c=$(ASAN)/obj/%.o)
ASAN_SRV_OBJS := $(SRV_SRCS:%.c=$(ASAN)/obj/%.o)

UNIT_BINS      := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
ASAN_UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(ASAN)/tests/%)
FUZZ_BINS      := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
BENCH_BINS     := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)
EXAMPLE_BINS   := $(EXAMPLE_SRCS:examples/%.c=$(BUILD)/examples/%)

.PHONY: all deps deps-test run test unit unit-asan cli-test integration examples-test FORCE fuzz fuzz-build \
	fuzz-regress bench vectors install uninstall clean help examples
.DEFAULT_GOAL := all

all: $(BUILD)/tern $(BUILD)/libtern.a $(BUILD)/libtern.so $(BUILD)/tern.pc

help:
	@echo "make            build build/tern, build/libtern.{a,so}, build/tern.pc"
	@echo "make run        build and start the relay on 127.0.0.1:7777 (ARGS='...' adds flags)"
	@echo "make test       unit tests (plain and ASan+UBSan), CLI and integration tests, fuzz regressions"
	@echo "make fuzz       run every libFuzzer target for FUZZ_SECONDS (default 30)"
	@echo "make bench      micro and end-to-end benchmarks"
	@echo "make vectors    regenerate tests/vectors with nostr-tools (npm)"
	@echo "make install    PREFIX=/usr/local DESTDIR= : binary, library, headers, tern.pc"

$(DEPS_STAMP): scripts/deps.sh
	@scripts/deps.sh
	@mkdir -p $(@D) && touch $@
$(DEPS_TEST_STAMP): scripts/deps.sh
	@scripts/deps.sh test
	@mkdir -p $(@D) && touch $@ $(DEPS_STAMP)
deps: $(DEPS_STAMP)
deps-test: $(DEPS_TEST_STAMP)

# Header dependencies are tracked with -MMD.
$(OBJ)/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) -fPIC $(call pc_cflags,$(PKGS)) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libtern.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

# Only the public API (tern_*, not tern__*) is exported from the shared library.
$(BUILD)/libtern.so: $(LIB_OBJS) scripts/libtern.map
	$(CC) -shared -Wl,-soname,libtern.so.0 -Wl,--version-script=scripts/libtern.map \
	  -o $@ $(LIB_OBJS) $(LIBS) $(LDFLAGS)

$(BUILD)/tern: $(SRV_OBJS) $(BUILD)/libtern.a
	$(CC) -o $@ $(SRV_OBJS) $(BUILD)/libtern.a $(LIBS) $(LDFLAGS)

# tern.pc records PREFIX: rewritten whenever PREFIX changes.
$(BUILD)/.prefix: FORCE
	@mkdir -p $(@D)
	@echo '$(PREFIX)' | cmp -s - $@ || echo '$(PREFIX)' > $@
FORCE:

$(BUILD)/tern.pc: Makefile $(BUILD)/.prefix
	@mkdir -p $(@D)
	@printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$${prefix}/lib' 'includedir=$${prefix}/include' '' \
	  'Name: tern' 'Description: Nostr relay framework' 'Version: $(VERSION)' \
	  'Requires.private: $(PKGS)' 'Libs: -L$${libdir} -ltern' 'Libs.private: -lpthread' \
	  'Cflags: -I$${includedir}' > $@

# ---- tests -----------------------------------------------------------------
$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libtern.a | $(DEPS_TEST_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $(call pc_cflags,$(PKGS) $(TEST_PKGS)) $(CFLAGS) -o $@ $< \
	  $(BUILD)/libtern.a $(LIBS) $(TEST_LIBS)

$(ASAN)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $(SAN_FLAGS) $(call pc_cflags,$(PKGS)) $(CFLAGS) -MMD -MP -c $< -o $@

$(ASAN)/libtern.a: $(ASAN_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(ASAN)/tern: $(ASAN_SRV_OBJS) $(ASAN)/libtern.a
	$(CC) $(SAN_FLAGS) -o $@ $(ASAN_SRV_OBJS) $(ASAN)/libtern.a $(LIBS)

$(ASAN)/tests/%: tests/unit/%.c $(ASAN)/libtern.a | $(DEPS_TEST_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $(SAN_FLAGS) $(call pc_cflags,$(PKGS) $(TEST_PKGS)) $(CFLAGS) -o $@ $< \
	  $(ASAN)/libtern.a $(LIBS) $(TEST_LIBS)

export ASAN_OPTIONS ?= detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1

unit: $(UNIT_BINS)
	@scripts/run-unit.sh $(UNIT_BINS)

unit-asan: $(ASAN_UNIT_BINS)
	@scripts/run-unit.sh $(ASAN_UNIT_BINS)

# CLI tests run the sanitizer build of the binary, so the tools are checked too.
cli-test: $(BUILD)/tern $(ASAN)/tern
	@TERN=$(ASAN)/tern scripts/run-cli-tests.sh tests/cli/*.sh

# Integration tests drive the sanitizer build of tern serve with nostr-tools.
integration: $(ASAN)/tern
	@TERN=$(ASAN)/tern scripts/run-integration.sh

test: $(DEPS_TEST_STAMP) all
	@$(MAKE) --no-print-directory unit unit-asan cli-test integration examples-test fuzz-regress

# ---- fuzzing (clang + libFuzzer) -------------------------------------------
FUZZ_FLAGS := -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer -g -O1
$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB_SRCS) | $(DEPS_TEST_STAMP)
	@mkdir -p $(@D)
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -DTERN_VERSION='"$(VERSION)"' $(FUZZ_FLAGS) -Iinclude -Isrc $(call pc_cflags,$(PKGS) jansson) \
	  -o $@ $< $(LIB_SRCS) $(LIBS) $(call pc_libs,jansson)

fuzz-build: $(FUZZ_BINS)

# Replays each target's committed corpus: a quick regression check.
fuzz-regress: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do n=$$(basename $$f); d=tests/fuzz/corpus/$$n; \
	  [ -d $$d ] || continue; echo "fuzz-regress $$n"; \
	  $$f -runs=0 $$d >/dev/null 2>$(BUILD)/fuzz/$$n.log || { cat $(BUILD)/fuzz/$$n.log; exit 1; }; done

# Runs each target for FUZZ_SECONDS, growing a scratch corpus under build/.
fuzz: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do n=$$(basename $$f); w=$(BUILD)/fuzz/corpus-$$n; mkdir -p $$w; \
	  echo "fuzz $$n for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $$w tests/fuzz/corpus/$$n || exit 1; done

# ---- benchmarks, examples, vectors -----------------------------------------
$(BUILD)/bench/%: bench/%.c $(BUILD)/libtern.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $(call pc_cflags,$(PKGS)) $(CFLAGS) -o $@ $< $(BUILD)/libtern.a $(LIBS)

bench: all $(BENCH_BINS)
	@scripts/bench.sh
	@scripts/bench-relay.sh

# Examples see only the public headers, like programs built out of tree.
EXAMPLE_CFLAGS = $(filter-out -Isrc,$(CFLAGS_BASE)) -Wpedantic
ASAN_EXAMPLE_BINS := $(EXAMPLE_SRCS:examples/%.c=$(ASAN)/examples/%)

$(BUILD)/examples/%: examples/%.c $(BUILD)/libtern.a
	@mkdir -p $(@D)
	$(CC) $(EXAMPLE_CFLAGS) $(call pc_cflags,$(PKGS)) $(CFLAGS) -o $@ $< $(BUILD)/libtern.a $(LIBS)

$(ASAN)/examples/%: examples/%.c $(ASAN)/libtern.a
	@mkdir -p $(@D)
	$(CC) $(EXAMPLE_CFLAGS) $(SAN_FLAGS) $(call pc_cflags,$(PKGS)) $(CFLAGS) -o $@ $< $(ASAN)/libtern.a $(LIBS)

examples: $(EXAMPLE_BINS)

# Runs every example (sanitizer build) against nostr-tools, then builds one
# out of tree from a scratch `make install`.
examples-test: $(ASAN_EXAMPLE_BINS) $(EXAMPLE_BINS)
	@EXAMPLES=$(ASAN)/examples scripts/test-examples.sh

vectors: $(DEPS_TEST_STAMP)
	cd tests/vectors && npm install --no-audit --no-fund --silent && node gen-vectors.mjs

# Starts the relay on 127.0.0.1:7777 with the store in ./tern-db;
# ARGS adds flags, e.g. make run ARGS='--config tern.conf'.
run: all
	$(BUILD)/tern serve $(ARGS)

# ---- install ---------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/tern
	install -m 755 $(BUILD)/tern $(DESTDIR)$(PREFIX)/bin/tern
	install -m 644 $(BUILD)/libtern.a $(DESTDIR)$(PREFIX)/lib/libtern.a
	install -m 755 $(BUILD)/libtern.so $(DESTDIR)$(PREFIX)/lib/libtern.so.$(VERSION)
	ln -sf libtern.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libtern.so.0
	ln -sf libtern.so.0 $(DESTDIR)$(PREFIX)/lib/libtern.so
	install -m 644 include/tern/*.h $(DESTDIR)$(PREFIX)/include/tern/
	install -m 644 $(BUILD)/tern.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/tern.pc

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/bin/tern $(DESTDIR)$(PREFIX)/lib/libtern.* \
	  $(DESTDIR)$(PREFIX)/include/tern $(DESTDIR)$(PREFIX)/lib/pkgconfig/tern.pc

clean:
	rm -rf $(BUILD)

-include $(LIB_OBJS:.o=.d) $(SRV_OBJS:.o=.d) $(ASAN_LIB_OBJS:.o=.d) $(ASAN_SRV_OBJS:.o=.d)
