# Quiesce: make run, make test. Everything else is here for those two and for CI.
SWIFT        ?= swift
BUILD_FLAGS  ?=
# Swift Testing runs tests in parallel; the package is small enough that two workers fit 2 cores.
TEST_FLAGS   ?= --parallel --num-workers 2

.PHONY: all setup build run test bench clean

all: build

## setup: install the Debian packages the project needs (only the missing ones; root or sudo)
setup:
	@scripts/setup.sh

## build: build every target
build: setup
	$(SWIFT) build $(BUILD_FLAGS)

## run: build and run agentd in the foreground on your session bus
run: setup
	@if [ -d Sources/agentd ]; then \
		$(SWIFT) build $(BUILD_FLAGS) --product agentd && scripts/run-agent.sh; \
	else \
		echo "agentd is not built yet: this checkout has the protocol core only (see docs/architecture.md)."; \
		echo "Embed it today with QuiesceCore or QuiesceServiceLifecycle (docs/protocol.md)."; \
	fi

## test: build and run the whole test suite (CI runs exactly this)
test: setup
	@scripts/rig.sh check
	$(SWIFT) build --build-tests $(BUILD_FLAGS)
	@# Test buses are stopped by the tests; a run killed half-way must not leave any behind.
	@status=0; $(SWIFT) test --skip-build $(TEST_FLAGS) || status=$$?; \
		pkill -KILL -f 'quiesce-bus-[A-Za-z0-9]+/bus.conf' 2>/dev/null || true; \
		exit $$status

## bench: measure performance side by side with baselines; writes docs/benchmarks.md
## (BENCH_FLAGS="--quick" for a short run, "--only dbus" for one group). Runs on the test rig.
BENCH_RIG := .build/bench/rig
bench: setup
	$(SWIFT) build -c release $(BUILD_FLAGS) --product quiesce-bench
	@mkdir -p .build/bench
	cc -O2 -o .build/bench/enqueue_baseline bench/enqueue_baseline.c $$(pkg-config --cflags --libs sqlite3)
	cc -O2 -o .build/bench/dbus_roundtrip bench/dbus_roundtrip.c $$(pkg-config --cflags --libs dbus-1)
	@scripts/rig.sh stop $(BENCH_RIG) 2>/dev/null || true
	@scripts/rig.sh start $(BENCH_RIG) >/dev/null
	@. $(BENCH_RIG)/env; status=0; \
		$$($(SWIFT) build -c release --show-bin-path)/quiesce-bench $(BENCH_FLAGS) \
			--enqueue-baseline .build/bench/enqueue_baseline --dbus-baseline .build/bench/dbus_roundtrip || status=$$?; \
		scripts/rig.sh stop $(BENCH_RIG); exit $$status

clean:
	$(SWIFT) package clean
