# hvnet: the two commands that matter are `make demo` and `make test`.
# Each installs the Debian packages it needs (scripts/install-deps.sh, idempotent),
# configures and builds, then runs.

BUILD    ?= build
ASAN_BUILD ?= build-asan
CC       ?= cc
MESON_OPTS ?=

# make bench-NAME runs bench/NAME/run.sh (bench/README.md)
BENCHES = bench-lang bench-fw bench-route bench-mirror bench-overlay
.PHONY: all deps build test unit-test asan-test system-test fuzz-test demo bench $(BENCHES) clean format-check

all: build

deps:
	./scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# Unit tests (cmocka), then the same tests under ASan+UBSan, then the fuzz
# regression inputs, then the system tests (root, network namespaces).
test: build
	./scripts/run-tests.sh

unit-test: build
	meson test -C $(BUILD) --suite unit --print-errorlogs

asan-test: deps
	[ -f $(ASAN_BUILD)/build.ninja ] || CC=clang meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Dfuzz=true
	ninja -C $(ASAN_BUILD)
	meson test -C $(ASAN_BUILD) --suite unit --suite fuzz-regress --print-errorlogs

system-test: build
	./tests/system/run.sh

demo: build
	./scripts/demo.sh

BENCH_SETUP = [ -f build-bench/build.ninja ] || meson setup build-bench --buildtype=release -Dnative=true -Db_lto=true -Doptimization=3 -Dtests=disabled

bench: deps
	$(BENCH_SETUP)
	ninja -C build-bench
	./bench/run.sh build-bench

# make bench-NAME runs bench/NAME/run.sh
$(BENCHES): bench-%: deps
	$(BENCH_SETUP)
	ninja -C build-bench
	./bench/$*/run.sh build-bench

format-check:
	git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-bench
