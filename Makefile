# Rebound - see README.md.  "make" builds build/rebound; "make check" runs the suite.

BUILD    ?= build
SANITIZE ?=
CC       ?= cc
comma    := ,
PKGS     := gmime-3.0 glib-2.0 libevent libevent_openssl openssl libpq json-glib-1.0 opendkim libseccomp

ifeq ($(SANITIZE),1)
BUILD    := build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

# ---- layers ----------------------------------------------------------------
# Each folder is a layer and may include only itself and the layers before it
# in this list (README "Architecture").  A layer compiles with the include
# root build/inc/LAYER, which holds links to exactly those folders, so an
# include that points up ("store/store.h" from receiver/) fails the build.
LAYERS   := common parsers receiver workers store webhook lookup cli
INC      := build/inc
# What each layer may link against; a layer not named here gets all of PKGS.
PKGS_common   := glib-2.0 openssl
PKGS_parsers  := gmime-3.0 glib-2.0
PKGS_receiver := glib-2.0 libevent libevent_openssl openssl

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith \
            -Wsign-compare -Werror=implicit-function-declaration
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE $(WARN) $(SANFLAGS)
LDFLAGS  += $(SANFLAGS)
# Computed when make reads this file: "make check" and "make run" install the
# packages first and then run make again, so a fresh machine gets them right.
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
$(foreach l,$(LAYERS),$(eval LAYER_CFLAGS_$(l) := $(if $(PKGS_$(l)),$$(shell pkg-config --cflags $(PKGS_$(l)) 2>/dev/null),$$(PKG_CFLAGS))))
layer     = $(firstword $(subst /, ,$(1)))

LIB_SRC      := $(foreach l,$(LAYERS),$(filter-out cli/main.c,$(wildcard $(l)/*.c)))
LIB_OBJ      := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
# The analysts' page under /ui/ is compiled in (lookup/ui_assets.h).
UI_FILES     := $(sort $(wildcard lookup/ui/*))
UI_GEN       := $(BUILD)/gen/lookup/ui_assets.c
LIB_OBJ      += $(BUILD)/obj/gen/lookup/ui_assets.o
UNIT_SRC     := $(wildcard tests/unit/test_*.c)
UNIT_BIN     := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TEST_SUPPORT := $(wildcard tests/support/*.c)
UNIT_OBJ     := $(BUILD)/obj/tests/unit/unit.o
UNIT_MAIN    := $(BUILD)/obj/tests/unit/libunit_main.a

.PHONY: all deps deps-test deps-bench check run stop clean fuzz bench-smtp bench-parse bench-store bench-lookup bench-scale includes
all: includes $(BUILD)/rebound $(BUILD)/rebound-all $(BUILD)/rebound-test $(UNIT_BIN)

# The include roots: build/inc/LAYER/NAME -> NAME for every layer up to LAYER;
# build/inc/tests sees every layer and tests/ (test code only).
includes:
	@set -e; prev=""; for l in $(LAYERS); do \
		prev="$$prev $$l"; mkdir -p $(INC)/$$l; \
		for d in $$prev; do ln -sfn ../../../$$d $(INC)/$$l/$$d; done; \
	done; mkdir -p $(INC)/tests; \
	for d in $(LAYERS) tests; do ln -sfn ../../../$$d $(INC)/tests/$$d; done

deps:
	@scripts/deps.sh build

$(BUILD)/obj/%.o: %.c | includes
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(INC)/$(call layer,$*) $(LAYER_CFLAGS_$(call layer,$*)) -MMD -MP -c $< -o $@

$(BUILD)/obj/tests/%.o: tests/%.c | includes
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(INC)/tests $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(UI_GEN): $(UI_FILES) scripts/ui_assets.sh
	@mkdir -p $(dir $@)
	scripts/ui_assets.sh $(UI_FILES) > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen/lookup/ui_assets.o: $(UI_GEN) lookup/ui_assets.h | includes
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(INC)/lookup -c $< -o $@

$(BUILD)/librebound.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# Two binaries (cli/commands.h): rebound-all runs every subcommand; rebound
# runs "parse" itself and execs rebound-all for the others.  The front links
# only what the parser needs: an object of it that reached for libpq,
# libevent or OpenDKIM would fail this link.
FRONT_PKGS := gmime-3.0 glib-2.0 json-glib-1.0 libseccomp libcrypto
FRONT_LIBS := $(shell pkg-config --libs $(FRONT_PKGS) 2>/dev/null)

$(BUILD)/obj/cli/cli_front.o: cli/cli.c | includes
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DREBOUND_FRONT -I$(INC)/cli $(LAYER_CFLAGS_cli) -MMD -MP -c $< -o $@

$(BUILD)/rebound: $(BUILD)/obj/cli/main.o $(BUILD)/obj/cli/cli_front.o $(BUILD)/librebound.a | $(BUILD)/rebound-all
	$(CC) $(LDFLAGS) -o $@ $^ $(FRONT_LIBS) -lm

$(BUILD)/rebound-all: $(BUILD)/obj/cli/main.o $(BUILD)/librebound.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

# The daemon with the test hooks (tests/support/): only the tests use it.
$(BUILD)/rebound-test: $(TEST_SUPPORT:%.c=$(BUILD)/obj/%.o) $(BUILD)/librebound.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

TEST_CFLAGS = $(CFLAGS) -I$(INC)/tests $(PKG_CFLAGS)

# An archive: a unit test program that defines main() does not take this one.
$(UNIT_MAIN): $(BUILD)/obj/tests/unit/unit_main.o
	@rm -f $@
	ar rcs $@ $^

# unit.o is kept: make would delete it as an intermediate of the tests.
.SECONDARY: $(UNIT_OBJ) $(BUILD)/obj/tests/unit/unit_main.o
$(BUILD)/tests/%: tests/unit/%.c $(UNIT_OBJ) $(UNIT_MAIN) $(BUILD)/librebound.a | includes
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $(LDFLAGS) -o $@ $< $(UNIT_OBJ) $(UNIT_MAIN) $(BUILD)/librebound.a \
	    $(PKG_LIBS) -lm

check:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory all
	REBOUND_BUILD=$(BUILD) python3 tests/run.py

deps-test:
	@scripts/deps.sh test

run:
	@scripts/deps.sh build
	@$(MAKE) --no-print-directory all
	@scripts/run.sh

# Ends this tree's "make run" (its daemon and the PostgreSQL cluster it started).
stop:
	@scripts/run.sh stop

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ---- parsers: benchmark and fuzzing ---------------------------------------
$(BUILD)/tests/bench_parse: tests/bench/bench_parse.c $(BUILD)/librebound.a | includes
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/librebound.a $(PKG_LIBS) -lm

# The cost of isolation in the same report: the parser pool against
# in-process parsing follows the Sisimai comparison.
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
                -fno-sanitize-recover=undefined -std=c11 -D_GNU_SOURCE
FUZZ_OBJ     := $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_BIN     := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)

# The library once, instrumented for coverage; each target links against it.
$(FUZZ_BUILD)/obj/%.o: %.c | includes
	@mkdir -p $(dir $@)
	clang $(subst fuzzer$(comma),fuzzer-no-link$(comma),$(FUZZ_FLAGS)) -I$(INC)/$(call layer,$*) $(LAYER_CFLAGS_$(call layer,$*)) -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/libfuzz.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_BUILD)/libfuzz.a | includes
	clang $(FUZZ_FLAGS) -I$(INC)/tests $(PKG_CFLAGS) -o $@ $< $(FUZZ_BUILD)/libfuzz.a $(PKG_LIBS) -lm

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

# Parser worker pool vs in-process parsing (workers/workers.c); see tests/bench/bench_workers.c.
.PHONY: bench-workers
$(BUILD)/bench/bench_workers: tests/bench/bench_workers.c $(BUILD)/librebound.a | includes
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/librebound.a $(PKG_LIBS) -lm

bench-workers: $(BUILD)/rebound $(BUILD)/bench/bench_workers
	$(BUILD)/bench/bench_workers $(BUILD)/rebound tests/fixtures $(BENCH_CORPUS)

# ---- receiver, store and lookup benchmarks (figures, never pass/fail on speed) ----
deps-bench:
	@scripts/deps.sh bench

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

# ---- parser accuracy on tests/corpus ---------------------------------------
# Per source, train and validation (tests/corpus/SPLIT), and the shared corpus.
.PHONY: accuracy
accuracy: $(BUILD)/rebound
	BUILD=$(BUILD) tests/accuracy/run.sh

# Primary + hot standby, two receivers, lookupd on the standby, under load;
# a 30 s primary outage (tests/bench/bench_scale.py).
bench-scale: deps-bench $(BUILD)/rebound $(BUILD)/bench/bench_lookup_client
	REBOUND_BUILD=$(BUILD) python3 tests/bench/bench_scale.py

# Issue 18's webhook bar: 1,000 events to a receiver that fails the first
# three tries of each and is down for 60 s (PostgreSQL restarted meanwhile);
# make check runs the same test with 200 events and 10 s.
.PHONY: bench-webhook
bench-webhook: $(BUILD)/rebound
	REBOUND_BUILD=$(BUILD) REBOUND_WEBHOOK_EVENTS=1000 REBOUND_WEBHOOK_OUTAGE=60 \
	    python3 tests/run.py -v -k test_webhook.py

include mk/install.mk
