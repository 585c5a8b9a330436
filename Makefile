# acx - one build for the generator, the runtime, the tests and the examples.
#
#   make            build acxc, libacx.a and the examples
#   make demo       build and run the flagship example
#   make check      every test: CUnit suites, compile-and-run, diagnostics
#   make check-asan the same under AddressSanitizer + UBSan
#   make check-tsan the runtime suites under ThreadSanitizer
#   make bench      benchmarks, each beside a baseline (prints figures)
#   make check-fuzz run the acxc fuzz target briefly (clang, libFuzzer)

CC      ?= cc
BUILD   ?= build
SAN     ?=
OPT     ?= -O2
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wno-unused-parameter
CFLAGS  := -std=gnu11 $(OPT) -g $(WARN) $(SAN)
LDFLAGS := $(SAN)
VERSION := 0.1.0
RE2C    ?= re2c
LEMON   ?= lemon

.DEFAULT_GOAL := all
.PHONY: all deps demo check check-unit check-run check-diag check-golden check-ccerr check-cli check-debug \
        check-asan check-tsan check-fuzz bench golden-update clean

# ---- build dependencies: installed when missing (as root), else explained
DEPS_STAMP := $(BUILD)/.deps-ok
deps: $(DEPS_STAMP)
$(DEPS_STAMP):
	@scripts/deps.sh
	@mkdir -p $(BUILD) && touch $@

# ---- the front end and generator: acxc
DSL_RE   := $(wildcard dsl/*.re)
DSL_Y    := $(wildcard dsl/*.y)
DSL_C    := $(filter-out %.re %.y,$(wildcard dsl/*.c))
GEN_C    := $(wildcard gen/*.c)
ACXC_GEN := $(patsubst dsl/%.re,$(BUILD)/dsl/%.c,$(DSL_RE)) \
            $(patsubst dsl/%.y,$(BUILD)/dsl/%.c,$(DSL_Y))
ACXC_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(DSL_C) $(GEN_C)) \
            $(ACXC_GEN:.c=.o)
ACXC_LIBOBJ := $(filter-out $(BUILD)/gen/main.o,$(ACXC_OBJ))
ACXC     := $(BUILD)/acxc
FRONT_CFLAGS := -Idsl -I$(BUILD)/dsl -Igen

$(BUILD)/dsl/%.c: dsl/%.re $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(RE2C) -W -Werror --no-generation-date -o $@ $<

# lemon writes next to its output; -d picks the directory, -q no report.
$(BUILD)/dsl/%.c $(BUILD)/dsl/%.h: dsl/%.y $(DEPS_STAMP)
	@mkdir -p $(BUILD)/dsl
	$(LEMON) -q -d$(BUILD)/dsl $<

# the lexer needs the token codes lemon generates
$(BUILD)/dsl/lexer.o: $(BUILD)/dsl/parser.h

$(BUILD)/dsl/%.o: $(BUILD)/dsl/%.c
	$(CC) $(CFLAGS) $(FRONT_CFLAGS) -Wno-unused-variable -Wno-sign-compare \
	    -Wno-missing-prototypes -MMD -c -o $@ $<

$(BUILD)/dsl/%.o $(BUILD)/gen/%.o: CFLAGS += $(FRONT_CFLAGS)
$(BUILD)/dsl/%.o: dsl/%.c $(BUILD)/dsl/parser.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -c -o $@ $<
$(BUILD)/gen/%.o: gen/%.c $(BUILD)/dsl/parser.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -c -o $@ $<

$(BUILD)/gen/main.o: CFLAGS += -DACX_INCLUDE_DIR='"$(abspath runtime)"' \
    -DACX_VERSION_STRING='"$(VERSION)"'

$(ACXC): $(ACXC_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^

# ---- the runtime: libacx.a
RT_C   := $(wildcard runtime/*.c)
RT_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(RT_C))
LIBACX := $(BUILD)/libacx.a

$(BUILD)/runtime/%.o: runtime/%.c $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iruntime -MMD -c -o $@ $<

$(LIBACX): $(RT_OBJ)
	rm -f $@
	ar rcs $@ $^

# ---- .acx programs: examples and compile-and-run tests
ACXFLAGS ?=
$(BUILD)/%.c: %.acx $(ACXC)
	@mkdir -p $(dir $@)
	$(ACXC) --cc "$(CC)" $(ACXFLAGS) -Iruntime -MD -MF $(@:.c=.acx.d) -o $@ $<

EX_ACX  := $(wildcard examples/*.acx)
EX_BIN  := $(patsubst %.acx,$(BUILD)/%,$(EX_ACX))
$(BUILD)/examples/%: $(BUILD)/examples/%.c $(LIBACX)
	$(CC) $(CFLAGS) -Iruntime -o $@ $< $(LIBACX) -lpthread

all: $(ACXC) $(LIBACX) $(EX_BIN)

demo: all
	$(BUILD)/examples/demo

# ---- tests
UNIT_C   := $(wildcard tests/unit/*.c)
UNIT_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(UNIT_C))
UNIT     := $(BUILD)/tests/unit_tests
$(BUILD)/tests/unit/%.o: tests/unit/%.c $(BUILD)/dsl/parser.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(FRONT_CFLAGS) -Iruntime -MMD -c -o $@ $<
$(UNIT): $(UNIT_OBJ) $(ACXC_LIBOBJ) $(LIBACX)
	$(CC) $(LDFLAGS) -o $@ $^ -lcunit -lpthread

check-unit: $(UNIT)
	$(UNIT)

# Compile-and-run: every tests/run/NAME.acx is generated, compiled with gcc
# and clang under -Werror, run, and its stdout compared with NAME.out.
check-run: $(ACXC) $(LIBACX)
	@scripts/run-tests.sh run $(ACXC) $(LIBACX) "$(SAN)" $(BUILD)

# Diagnostics: every tests/diag/NAME.acx must fail with exactly NAME.err.
check-diag: $(ACXC)
	@scripts/run-tests.sh diag $(ACXC) $(LIBACX) "$(SAN)" $(BUILD)

check-cli: $(ACXC) $(LIBACX)
	@tests/cli.sh $(ACXC) $(BUILD) "$(SAN)"

check-debug: $(ACXC) $(LIBACX)
	@tests/debug.sh $(ACXC) $(LIBACX) $(BUILD)

check-ccerr: $(ACXC)
	@scripts/run-tests.sh ccerr $(ACXC) $(LIBACX) "$(SAN)" $(BUILD)

check-golden: $(ACXC)
	@scripts/run-tests.sh golden $(ACXC) $(LIBACX) "$(SAN)" $(BUILD)
golden-update: $(ACXC)
	@UPDATE=1 scripts/run-tests.sh golden $(ACXC) $(LIBACX) "$(SAN)" $(BUILD)

check: all check-unit check-cli check-golden check-diag check-ccerr check-debug check-run
	@echo "make check: all suites passed"

ASAN := -fsanitize=address,undefined -fno-sanitize-recover=all \
        -fno-omit-frame-pointer
check-asan: $(DEPS_STAMP)
	$(MAKE) BUILD=$(BUILD)/asan SAN="$(ASAN)" OPT=-O1 check

TSAN := -fsanitize=thread
check-tsan: $(DEPS_STAMP)
	$(MAKE) BUILD=$(BUILD)/tsan SAN="$(TSAN)" OPT=-O1 check-unit

# ---- benchmarks: figures beside baselines, printed, never a pass/fail
bench: all
	bench/run.sh $(BUILD)

# ---- fuzzing: libFuzzer on the front end and generator (clang)
FUZZ_TIME ?= 60
FUZZ_SRC := tests/fuzz/fuzz_acxc.c $(DSL_C) $(filter-out gen/main.c,$(GEN_C)) \
            $(BUILD)/dsl/lexer.c $(BUILD)/dsl/parser.c
$(BUILD)/fuzz_acxc: $(FUZZ_SRC) $(BUILD)/dsl/parser.h
	@ACX_EXTRA_DEPS=libclang-rt-14-dev scripts/deps.sh
	clang -g -O1 -fsanitize=fuzzer,address,undefined $(FRONT_CFLAGS) \
	    -o $@ $(FUZZ_SRC)
check-fuzz: $(BUILD)/fuzz_acxc
	@mkdir -p $(BUILD)/fuzz-corpus
	$(BUILD)/fuzz_acxc -max_total_time=$(FUZZ_TIME) -timeout=5 \
	    -rss_limit_mb=2048 $(BUILD)/fuzz-corpus tests/corpus/acxc
	@for f in tests/corpus/acxc/*; do \
	    $(BUILD)/fuzz_acxc $$f >/dev/null 2>&1 || { echo "regression: $$f"; exit 1; }; \
	done; echo "check-fuzz: corpus replays clean"

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
