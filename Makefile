# Rebound - see README.md.  "make" builds build/rebound; "make check" runs the suite.

BUILD    ?= build
SANITIZE ?=
CC       ?= cc
comma    := ,
PKGS     := gmime-3.0 glib-2.0 libevent libevent_openssl openssl libpq json-glib-1.0

ifeq ($(SANITIZE),1)
BUILD    := build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith \
            -Wsign-compare -Werror=implicit-function-declaration
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE $(WARN) $(SANFLAGS) -Icommon -I.
LDFLAGS  += $(SANFLAGS)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# parsers/ may use GMime and GLib only: compiling it without the other
# packages' include paths makes a stray libpq include fail at build time.
PARSER_CFLAGS := $(shell pkg-config --cflags gmime-3.0 glib-2.0 2>/dev/null)

COMMON_SRC   := $(filter-out common/main.c,$(wildcard common/*.c))
PARSERS_SRC  := $(wildcard parsers/*.c)
RECEIVER_SRC := $(wildcard receiver/*.c)
STORE_SRC    := $(wildcard store/*.c)
LIB_SRC      := $(COMMON_SRC) $(PARSERS_SRC) $(RECEIVER_SRC) $(STORE_SRC)
LIB_OBJ      := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
PARSERS_OBJ  := $(PARSERS_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_SRC     := $(wildcard tests/unit/test_*.c)
UNIT_BIN     := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps deps-test deps-bench check run clean fuzz bench-smtp bench-parse bench-store bench-lookup
all: $(BUILD)/rebound $(UNIT_BIN)

deps:
	@common/deps.sh build

$(BUILD)/obj/parsers/%.o: parsers/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PARSER_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/librebound.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libparsers.a: $(PARSERS_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/rebound: $(BUILD)/obj/common/main.o $(BUILD)/librebound.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/librebound.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/librebound.a $(PKG_LIBS) -lm

check: deps-test all
	REBOUND_BUILD=$(BUILD) python3 tests/run.py

deps-test:
	@common/deps.sh test

run: deps
	@$(MAKE) --no-print-directory all
	@common/run.sh

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ---- parsers: benchmark and fuzzing ---------------------------------------
$(BUILD)/tests/bench_parse: tests/bench/bench_parse.c $(BUILD)/librebound.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/librebound.a $(PKG_LIBS) -lm

# Issue 7 asks for the cost of isolation in the same report: the parser pool
# against in-process parsing follows the Sisimai comparison.
bench-parse: $(BUILD)/tests/bench_parse
	BUILD=$(BUILD) tests/bench/bench_parse.sh
	$(MAKE) --no-print-directory bench-workers

# Every tests/fuzz/fuzz_*.c is built with clang's libFuzzer and sanitizers
# against the library sources, then run for FUZZ_SECONDS each, seeded from
# tests/fuzz/seeds/NAME when it exists (fuzz_smtp: client transcripts with the
# hostile shapes), else from tests/fixtures, with tests/fuzz/NAME.dict if any.  A crash, leak, hang or failed
# check stops make with libFuzzer's status; the input is left in build/fuzz.
FUZZ_SECONDS ?= 10
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BUILD   := build/fuzz
FUZZ_FLAGS   := -g -O1 -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer \
                -fno-sanitize-recover=undefined -std=c11 -D_GNU_SOURCE -Icommon -I.
FUZZ_OBJ     := $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_BIN     := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)

# The library once, instrumented for coverage; each target links against it.
$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(subst fuzzer$(comma),fuzzer-no-link$(comma),$(FUZZ_FLAGS)) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/libfuzz.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_BUILD)/libfuzz.a
	clang $(FUZZ_FLAGS) $(PKG_CFLAGS) -o $@ $< $(FUZZ_BUILD)/libfuzz.a $(PKG_LIBS) -lm

fuzz: $(FUZZ_BIN)
	@set -e; for n in $(notdir $(FUZZ_BIN)); do \
		rm -rf $(FUZZ_BUILD)/$$n.corpus; mkdir -p $(FUZZ_BUILD)/$$n.corpus; \
		if [ -d tests/fuzz/seeds/$$n ]; then cp tests/fuzz/seeds/$$n/* $(FUZZ_BUILD)/$$n.corpus/; \
		else find tests/fixtures -type f -size -64k -exec cp {} $(FUZZ_BUILD)/$$n.corpus/ \; ; fi; \
		echo "fuzz: running $$n for $(FUZZ_SECONDS)s"; \
		dict=; [ -f tests/fuzz/$$n.dict ] && dict=-dict=tests/fuzz/$$n.dict; \
		$(FUZZ_BUILD)/$$n -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=2048 \
		    -timeout=10 -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/$$n- $$dict \
		    $(FUZZ_BUILD)/$$n.corpus; \
	done

-include $(shell find $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)

# Parser worker pool vs in-process parsing (store/workers.c); see tests/bench/bench_workers.c.
.PHONY: bench-workers
$(BUILD)/bench/bench_workers: tests/bench/bench_workers.c $(BUILD)/librebound.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/librebound.a $(PKG_LIBS) -lm

bench-workers: $(BUILD)/rebound $(BUILD)/bench/bench_workers
	$(BUILD)/bench/bench_workers $(BUILD)/rebound tests/fixtures $(BENCH_CORPUS)

# ---- receiver, store and lookup benchmarks (figures, never pass/fail on speed) ----
deps-bench:
	@common/deps.sh bench

bench-smtp: deps-bench $(BUILD)/rebound
	REBOUND_BUILD=$(BUILD) python3 tests/bench/bench_smtp.py

$(BUILD)/bench/bench_store_ceiling: tests/bench/bench_store_ceiling.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(LDFLAGS) -o $@ $< $(PKG_LIBS)

bench-store: deps-bench $(BUILD)/rebound $(BUILD)/bench/bench_store_ceiling
	REBOUND_BUILD=$(BUILD) python3 tests/bench/bench_store.py

$(BUILD)/bench/bench_lookup_client: tests/bench/bench_lookup_client.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<

bench-lookup: deps-bench $(BUILD)/rebound $(BUILD)/bench/bench_lookup_client
	REBOUND_BUILD=$(BUILD) python3 tests/bench/bench_lookup.py

# ---- parser accuracy on tests/corpus (issue 13) -----------------------------
# Per source, train and validation (tests/corpus/SPLIT), and the shared corpus.
.PHONY: accuracy
accuracy: $(BUILD)/rebound
	BUILD=$(BUILD) tests/accuracy/run.sh
