# syncc / syncvm: one plain Makefile.
#
#   make          build build/syncc (and, later, build/syncvm)
#   make test     build, then run every test suite, also under ASan+UBSan
#   make demo     build and run the bundled example district
#   make deps     install the Debian packages that are missing (as root)
#
# flex and bison outputs go to build/ and are never committed.

CC      ?= cc
SAN_CC  ?= clang
# zlib: OneRoster CSV packages are zip files (runtime/zipread.c inflates them).
# libzstd: each run's operations are kept in the history compressed
# (runtime/history.c); a first sync's are gigabytes, and zstd compresses
# them in 40% of zlib's time into half of its bytes.
PKGS    := libcurl jansson sqlite3 libpcre2-8 zlib libzstd
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-missing-field-initializers
CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -pthread $(WARN) $(CFLAGS) -Ibuild -Icompiler -Igrammar -Iruntime -Iruntime/connectors -Istdlib $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS    = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -pthread
# Generated scanners and parsers trip warnings that are not ours to fix.
GEN_CFLAGS = -Wno-unused-function -Wno-sign-compare -Wno-unused-parameter -Wno-missing-prototypes -Wno-shadow -Wno-unused-but-set-variable

DEB_PKGS := flex bison pkg-config libcurl4-openssl-dev libjansson-dev libsqlite3-dev \
            libpcre2-dev zlib1g-dev libzstd-dev sqlite3 python3 clang libclang-rt-14-dev jq

# The runtime library: everything both syncc and syncvm (and the unit tests) use.
RUNTIME_SRC  := $(filter-out runtime/main.c,$(sort $(wildcard runtime/*.c))) $(sort $(wildcard runtime/connectors/*.c)) \
                $(sort $(wildcard stdlib/*.c))
COMPILER_SRC := $(sort $(wildcard compiler/*.c)) $(RUNTIME_SRC)
GEN_SRC      := build/lexer.c build/parser.c build/stdlib_embed.c
STDLIB_SYNC  := $(sort $(wildcard stdlib/*.sync))
HEADERS      := $(wildcard compiler/*.h compiler/*.def grammar/*.h runtime/*.h runtime/*.def runtime/connectors/*.h \
                  stdlib/*.h stdlib/*.def) build/parser.h

.PHONY: all deps test demo clean docs san unit fuzz fuzz-smoke bench bench-vm bench-connectors
.DEFAULT_GOAL := all

all: deps build/syncc build/syncvm

# Installs only what is missing; apt-get update runs once, only then.
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "make deps: missing Debian packages:$$missing (run 'sudo make deps')"; exit 1; fi; \
	  echo "make deps: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

build build/san:
	@mkdir -p $@

build/parser.c build/parser.h: grammar/parser.y | build
	@echo "  BISON   $<"
	$(Q)bison -Wall -Werror --defines=build/parser.h -o build/parser.c grammar/parser.y

build/lexer.c: grammar/lexer.l build/parser.h | build
	@echo "  FLEX    $<"
	$(Q)flex -o build/lexer.c grammar/lexer.l

build/stdlib_embed.c: $(STDLIB_SYNC) tools/embed.sh | build
	@echo "  EMBED   stdlib"
	$(Q)tools/embed.sh $@ $(STDLIB_SYNC)

OBJ     := $(patsubst %.c,build/%.o,$(notdir $(COMPILER_SRC))) build/lexer.o build/parser.o build/stdlib_embed.o
SAN_OBJ := $(patsubst build/%,build/san/%,$(OBJ))

vpath %.c compiler runtime runtime/connectors stdlib build

# V=1 shows the whole command lines.
Q = $(if $(V),,@)

build/lexer.o build/parser.o build/stdlib_embed.o: build/%.o: build/%.c $(HEADERS)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) $(GEN_CFLAGS) -c -o $@ $<

build/%.o: %.c $(HEADERS) | build
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

VM_OBJ := $(patsubst %.c,build/%.o,$(notdir $(RUNTIME_SRC))) build/syncvm_main.o

build/syncvm_main.o: runtime/main.c $(HEADERS) | build
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

build/syncvm: $(VM_OBJ)
	@echo "  LINK    $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $(VM_OBJ) $(LIBS)

build/san/syncvm_main.o: runtime/main.c $(HEADERS) | build/san
	@echo "  SANCC   $<"
	$(Q)$(SAN_CC) $(ALL_CFLAGS) $(SAN_FLAGS) -c -o $@ $<

build/san/syncvm: $(patsubst build/%,build/san/%,$(VM_OBJ))
	@echo "  LINK    $@"
	$(Q)$(SAN_CC) $(SAN_FLAGS) -o $@ $^ $(LIBS)

build/syncc: $(OBJ)
	@echo "  LINK    $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $(OBJ) $(LIBS)

# The same program built with clang under AddressSanitizer and
# UndefinedBehaviorSanitizer; `make test` runs every suite with it too.
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer

build/san/lexer.o build/san/parser.o build/san/stdlib_embed.o: build/san/%.o: build/%.c $(HEADERS) | build/san
	@echo "  SANCC   $<"
	$(Q)$(SAN_CC) $(ALL_CFLAGS) $(GEN_CFLAGS) -Wno-unused-command-line-argument -Wno-unreachable-code $(SAN_FLAGS) -c -o $@ $<

build/san/%.o: %.c $(HEADERS) | build/san
	@echo "  SANCC   $<"
	$(Q)$(SAN_CC) $(ALL_CFLAGS) $(SAN_FLAGS) -c -o $@ $<

build/san/syncc: $(SAN_OBJ)
	@echo "  LINK    $@"
	$(Q)$(SAN_CC) $(SAN_FLAGS) -o $@ $(SAN_OBJ) $(LIBS)

san: deps build/san/syncc

# syncvm built with clang under ThreadSanitizer, for suite threads (the
# feeds read ahead and the history deflated on a second thread); the
# suites find syncvm beside syncc, so build/tsan/syncc is the plain one.
TSAN_FLAGS := -O1 -g -fsanitize=thread

build/tsan/syncvm: runtime/main.c $(RUNTIME_SRC) $(HEADERS)
	@mkdir -p build/tsan
	@echo "  TSANCC  $@"
	$(Q)$(SAN_CC) $(ALL_CFLAGS) $(TSAN_FLAGS) -o $@ runtime/main.c $(RUNTIME_SRC) $(LIBS)

build/tsan/syncc: build/syncc
	@mkdir -p build/tsan
	$(Q)ln -sf ../syncc $@

# Unit-test programs (tests/unit/test_*.c), each built normally and with
# the sanitizers; tests/run.py runs every one of them.
UNIT_TESTS := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
UNIT_BINS  := $(addprefix build/unit/,$(UNIT_TESTS)) $(addprefix build/san/unit/,$(UNIT_TESTS))

build/unit/%: tests/unit/%.c $(RUNTIME_SRC) $(HEADERS)
	@mkdir -p build/unit
	@echo "  CC      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(RUNTIME_SRC) $(LIBS)

build/san/unit/%: tests/unit/%.c $(RUNTIME_SRC) $(HEADERS)
	@mkdir -p build/san/unit
	@echo "  SANCC   $@"
	$(Q)$(SAN_CC) $(ALL_CFLAGS) $(SAN_FLAGS) -o $@ $< $(RUNTIME_SRC) $(LIBS)

# libFuzzer targets (clang): `make fuzz` runs each for FUZZ_SECONDS; `make
# test` runs a short smoke of each from the seed corpus.
FUZZ_SECONDS ?= 300
FUZZ_FLAGS := -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_SRC   := $(filter-out compiler/main.c,$(COMPILER_SRC)) $(GEN_SRC)

build/fuzz/fuzz_parse build/fuzz/fuzz_plan: build/fuzz/%: tests/fuzz/%.c $(FUZZ_SRC) $(HEADERS)
	@mkdir -p build/fuzz
	@echo "  FUZZCC  $@"
	$(Q)$(SAN_CC) $(ALL_CFLAGS) $(GEN_CFLAGS) -Wno-unused-command-line-argument -Wno-unreachable-code $(FUZZ_FLAGS) -o $@ $< $(FUZZ_SRC) $(LIBS)

# The run-file reader needs the runtime (the oplog, the run's fields), as
# the unit tests do.
build/fuzz/fuzz_runfile: tests/fuzz/fuzz_runfile.c $(RUNTIME_SRC) $(HEADERS)
	@mkdir -p build/fuzz
	@echo "  FUZZCC  $@"
	$(Q)$(SAN_CC) $(ALL_CFLAGS) -Wno-unused-command-line-argument -Wno-unreachable-code $(FUZZ_FLAGS) -o $@ $< $(RUNTIME_SRC) $(LIBS)

build/fuzz/corpus: build/test/small.plan $(wildcard examples/*.sync tests/ok/*.sync) tests/fuzz/runfile.json tests/fuzz/runfile-follow.json tests/fuzz/runfile-links.json \
                   tests/fuzz/runfile-lines.json tests/fuzz/runfile-by.json
	@mkdir -p build/fuzz/corpus/parse build/fuzz/corpus/plan build/fuzz/corpus/runfile
	@cp examples/*.sync tests/ok/*.sync build/fuzz/corpus/parse/
	@cp tests/fuzz/runfile.json tests/fuzz/runfile-follow.json tests/fuzz/runfile-lines.json tests/fuzz/runfile-links.json \
	    tests/fuzz/runfile-by.json build/fuzz/corpus/runfile/
	@printf '\001' | cat - build/test/small.plan > build/fuzz/corpus/plan/small-resum
	@printf '\000' | cat - build/test/small.plan > build/fuzz/corpus/plan/small
	@touch $@

fuzz: deps build/fuzz/fuzz_parse build/fuzz/fuzz_plan build/fuzz/fuzz_runfile build/fuzz/corpus
	build/fuzz/fuzz_parse -max_total_time=$(FUZZ_SECONDS) -max_len=65536 build/fuzz/corpus/parse
	build/fuzz/fuzz_plan -max_total_time=$(FUZZ_SECONDS) build/fuzz/corpus/plan
	build/fuzz/fuzz_runfile -max_total_time=$(FUZZ_SECONDS) build/fuzz/corpus/runfile

fuzz-smoke: build/fuzz/fuzz_parse build/fuzz/fuzz_plan build/fuzz/fuzz_runfile build/fuzz/corpus
	@rm -rf build/fuzz/smoke && mkdir -p build/fuzz/smoke && cp -r build/fuzz/corpus/parse build/fuzz/corpus/plan build/fuzz/corpus/runfile build/fuzz/smoke/
	@build/fuzz/fuzz_parse -runs=3000 -max_len=8192 -seed=1 build/fuzz/smoke/parse >build/fuzz/parse.log 2>&1 || { tail -40 build/fuzz/parse.log; exit 1; }
	@build/fuzz/fuzz_plan -runs=20000 -seed=1 build/fuzz/smoke/plan >build/fuzz/plan.log 2>&1 || { tail -40 build/fuzz/plan.log; exit 1; }
	@build/fuzz/fuzz_runfile -runs=5000 -max_len=4096 -seed=1 build/fuzz/smoke/runfile >build/fuzz/runfile.log 2>&1 || { tail -40 build/fuzz/runfile.log; exit 1; }
	@echo "fuzz smoke: parse, plan and run-file targets ran clean"

# Benchmarks print figures; they are never part of `make test` timing.
build/bench/vm: bench/vm.c $(RUNTIME_SRC) $(HEADERS)
	@mkdir -p build/bench
	@echo "  CC      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -O2 -o $@ $< $(RUNTIME_SRC) $(LIBS)

# The jansson-parse reference of bench/run's Veracross section.
build/bench/jparse: bench/jparse.c
	@mkdir -p build/bench
	@echo "  CC      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -O2 -o $@ $< $(LIBS)

# Runs a command and reports its own peak RSS (bench/run's measure()).
build/bench/maxrss: bench/maxrss.c
	@mkdir -p build/bench
	@echo "  CC      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -O2 -o $@ $<

build/bench/springfield.plan: examples/springfield.sync build/syncc
	@mkdir -p build/bench
	$(Q)build/syncc build examples/springfield.sync -o $@

# The sync benchmark: a generated district of BENCH_STUDENTS (default 100,000).
bench: deps build/syncc build/syncvm build/bench/jparse build/bench/maxrss bench-vm
	@BENCH_STUDENTS=$(or $(BENCH_STUDENTS),100000) bench/run

# The connectors against the vendor mocks (Veracross + PowerSchool), default
# 99,999 students (the PowerSchool mock's largest district).
bench-connectors: deps build/syncc build/syncvm
	bench/connectors --students $(or $(BENCH_STUDENTS),99999)

bench-vm: deps build/bench/vm build/bench/springfield.plan
	build/bench/vm build/bench/springfield.plan $(or $(BENCH_RECORDS),1000000)

build/test/small.plan: tests/plans/small.sync build/syncc
	@mkdir -p build/test
	$(Q)build/syncc build tests/plans/small.sync -o $@

unit: deps $(UNIT_BINS) build/test/small.plan

test: deps build/syncc build/san/syncc build/syncvm build/san/syncvm $(UNIT_BINS) build/test/small.plan build/fuzz/fuzz_parse build/fuzz/fuzz_plan build/fuzz/fuzz_runfile build/fuzz/corpus \
      build/bench/jparse build/bench/maxrss build/tsan/syncvm build/tsan/syncc
	@python3 tests/run.py --syncc build/syncc --san-syncc build/san/syncc

# Regenerates the docs that are expanded from the single sources of truth.
docs: build/syncc
	build/syncc gen-doc schema > docs/schema.md
	build/syncc gen-doc builtins > docs/builtins.md
	build/syncc gen-doc kinds > docs/sources.md
	build/syncc gen-doc opcodes > docs/opcodes.md

# The bundled district, two days of it, synced into build/demo-hub.db.
DEMO_HUB := $(CURDIR)/build/demo-hub.db
DEMO_VM  := $(CURDIR)/build/syncvm
demo: deps build/syncc build/syncvm
	@rm -f $(DEMO_HUB) $(DEMO_HUB)-wal $(DEMO_HUB)-shm
	@echo "== syncc check and test examples/demo.sync"
	@build/syncc check examples/demo.sync && build/syncc test examples/demo.sync
	@build/syncc build examples/demo.sync -o build/demo.plan
	@echo; echo "== day 1: syncvm plan (nothing is written)"
	@cd examples/data/day1 && $(DEMO_VM) plan $(CURDIR)/build/demo.plan --store $(DEMO_HUB); test $$? -le 2
	@echo; echo "== day 1: syncvm apply"
	@cd examples/data/day1 && $(DEMO_VM) apply $(CURDIR)/build/demo.plan --store $(DEMO_HUB) --summary
	@echo; echo "== day 2: syncvm plan: the diff against day 1"
	@cd examples/data/day2 && $(DEMO_VM) plan $(CURDIR)/build/demo.plan --store $(DEMO_HUB); test $$? -le 2
	@echo; echo "== day 2: syncvm apply"
	@cd examples/data/day2 && $(DEMO_VM) apply $(CURDIR)/build/demo.plan --store $(DEMO_HUB) --summary
	@echo; echo "== the duplicate queue"
	@$(DEMO_VM) duplicates list --store $(DEMO_HUB)
	@echo; echo "== history"
	@$(DEMO_VM) history --store $(DEMO_HUB)
	@echo; echo "The hub is $(DEMO_HUB); try: build/syncvm why student ID --store $(DEMO_HUB)"

clean:
	rm -rf build
