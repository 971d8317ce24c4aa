# Quiesce: make run, make test. Everything else is here for those two and for CI.
SWIFT        ?= swift
BUILD_FLAGS  ?=
# What users run (make install, make deb, make bench) links the Swift runtime into each binary: it
# starts in half the time of one that loads libswiftCore and friends (docs/benchmarks.md). No
# $ORIGIN runpath (nothing is beside the installed binaries). Lazy binding kept: BIND_NOW would
# resolve every imported symbol at each start of agentctl (lintian mentions it, as information only).
RELEASE      := -c release --static-swift-stdlib --disable-local-rpath
# The version, from its one place: AgentInterface.version (agentd --version, agentctl --version,
# the Version property); make deb checks debian/changelog against it.
VERSION      := $(shell sed -n 's/.*public static let version = "\(.*\)"/\1/p' Sources/QuiesceInterface/AgentInterface.swift)
# Swift Testing runs tests in parallel; the package is small enough that two workers fit 2 cores.
TEST_FLAGS   ?= --parallel --num-workers 2

.PHONY: all setup build run test bench torture release stage install deb deb-check man screenshots clean

all: build

## setup: install the Debian packages the project needs (only the missing ones; root or sudo)
setup:
	@scripts/setup.sh

## build: build every target
build: setup
	$(SWIFT) build $(BUILD_FLAGS)

## run: build and run agentd in the foreground on your session bus (Ctrl-C quits it)
run: setup
	$(SWIFT) build $(BUILD_FLAGS) --product agentd
	$(SWIFT) build $(BUILD_FLAGS) --product quiesce-copy
	$(SWIFT) build $(BUILD_FLAGS) --product agentctl
	@scripts/run-agent.sh

## test: build and run the whole test suite (CI runs exactly this)
test: setup
	@scripts/rig.sh check
	$(SWIFT) build --build-tests $(BUILD_FLAGS)
	@# Test buses are stopped by the tests; a run killed half-way must not leave any behind.
	@status=0; $(SWIFT) test --skip-build $(TEST_FLAGS) || status=$$?; \
		pkill -KILL -f 'quiesce-bus-[A-Za-z0-9]+/bus.conf' 2>/dev/null || true; \
		exit $$status

## bench: measure performance side by side with baselines; writes docs/benchmarks.md
## (BENCH_FLAGS="--quick" for a short run, "--only dbus" for one group, "--only dbus,agent" for a few). Runs on the test rig.
BENCH_RIG := .build/bench/rig
bench: setup
	$(SWIFT) build $(RELEASE) $(BUILD_FLAGS) --product quiesce-bench
	$(SWIFT) build $(RELEASE) $(BUILD_FLAGS) --product quiesce-copy
	$(SWIFT) build $(RELEASE) $(BUILD_FLAGS) --product agentd
	$(SWIFT) build $(RELEASE) $(BUILD_FLAGS) --product agentctl
	$(SWIFT) build $(RELEASE) $(BUILD_FLAGS) --product quiesce-idle-baseline
	@mkdir -p .build/bench
	cc -O2 -o .build/bench/enqueue_baseline bench/enqueue_baseline.c $$(pkg-config --cflags --libs sqlite3)
	cc -O2 -o .build/bench/dbus_roundtrip bench/dbus_roundtrip.c $$(pkg-config --cflags --libs dbus-1)
	cc -O2 -o .build/bench/hello bench/hello.c
	@scripts/rig.sh stop $(BENCH_RIG) 2>/dev/null || true
	@scripts/rig.sh start $(BENCH_RIG) >/dev/null
	@. $(BENCH_RIG)/env; status=0; \
		$$($(SWIFT) build $(RELEASE) --show-bin-path)/quiesce-bench $(BENCH_FLAGS) \
			--enqueue-baseline .build/bench/enqueue_baseline --dbus-baseline .build/bench/dbus_roundtrip || status=$$?; \
		scripts/rig.sh stop $(BENCH_RIG); exit $$status

## torture: the reliability suite at full size against the real agentd: 200 SIGKILLs under traffic,
## faults (prompt server, logind, session bus, NAS, database disk), bad input, another user, 200
## clients during a quit, a 10-minute soak beside the rest. Loopback only; stops by itself within
## 14 minutes; writes docs/reliability.md; fails if anything was lost. TORTURE_FLAGS="--quick" runs it small.
torture: setup
	@scripts/rig.sh check
	$(SWIFT) build $(BUILD_FLAGS) --product agentd
	$(SWIFT) build $(BUILD_FLAGS) --product quiesce-copy
	$(SWIFT) build $(BUILD_FLAGS) --product agentctl
	$(SWIFT) build $(BUILD_FLAGS) --product quiesce-torture
	@status=0; timeout --kill-after=10 840 $$($(SWIFT) build $(BUILD_FLAGS) --show-bin-path)/quiesce-torture $(TORTURE_FLAGS) || status=$$?; \
		pkill -KILL -f 'quiesce-bus-[A-Za-z0-9]+/bus.conf' 2>/dev/null || true; \
		[ $$status -ne 124 ] || echo "make torture: stopped after 14 minutes" >&2; \
		exit $$status

## release: the installed binaries (agentd, agentctl, quiesce-copy), release build, Swift runtime linked in
release:
	$(SWIFT) build $(RELEASE) $(BUILD_FLAGS) --product agentd
	$(SWIFT) build $(RELEASE) $(BUILD_FLAGS) --product agentctl
	$(SWIFT) build $(RELEASE) $(BUILD_FLAGS) --product quiesce-copy

## stage: copy what make release built, with the systemd user unit, the D-Bus service and interface,
## the desktop file and icons (GNOME's logout dialog names the agent by them), shell completions and
## the man pages, under $(DESTDIR)$(PREFIX). Builds nothing (debian/rules calls it).
PREFIX ?= /usr/local
BINDIR  = $(PREFIX)/bin
ZSH_COMPLETION_DIR ?= $(PREFIX)/share/zsh/site-functions
stage:
	@bin=$$($(SWIFT) build $(RELEASE) --show-bin-path); \
	set -e; \
	install -Dm755 $$bin/agentd $(DESTDIR)$(BINDIR)/agentd; \
	install -Dm755 $$bin/agentctl $(DESTDIR)$(BINDIR)/agentctl; \
	install -Dm755 $$bin/quiesce-copy $(DESTDIR)$(PREFIX)/libexec/quiesce/quiesce-copy; \
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/user $(DESTDIR)$(PREFIX)/share/dbus-1/services $(DESTDIR)$(PREFIX)/share/dbus-1/interfaces; \
	sed 's|@BINDIR@|$(BINDIR)|g' dbus/quiesce.service.in > $(DESTDIR)$(PREFIX)/lib/systemd/user/quiesce.service; \
	sed 's|@BINDIR@|$(BINDIR)|g' dbus/io.github.quiesce.Agent1.service.in > $(DESTDIR)$(PREFIX)/share/dbus-1/services/io.github.quiesce.Agent1.service; \
	install -m644 dbus/io.github.quiesce.Agent1.xml $(DESTDIR)$(PREFIX)/share/dbus-1/interfaces/; \
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(ZSH_COMPLETION_DIR) $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d; \
	$$bin/agentctl --generate-completion-script bash | sed '1{/^#!/d}' > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/agentctl; \
	$$bin/agentctl --generate-completion-script zsh > $(DESTDIR)$(ZSH_COMPLETION_DIR)/_agentctl; \
	$$bin/agentctl --generate-completion-script fish > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/agentctl.fish; \
	install -Dm644 docs/agentctl.1 $(DESTDIR)$(PREFIX)/share/man/man1/agentctl.1; \
	install -Dm644 docs/agentd.1 $(DESTDIR)$(PREFIX)/share/man/man1/agentd.1; \
	install -d $(DESTDIR)$(PREFIX)/share/applications; \
	sed 's|@BINDIR@|$(BINDIR)|g' desktop/io.github.quiesce.Agent.desktop.in > $(DESTDIR)$(PREFIX)/share/applications/io.github.quiesce.Agent.desktop; \
	for icon in $$(cd desktop/icons && find hicolor -type f); do install -Dm644 desktop/icons/$$icon $(DESTDIR)$(PREFIX)/share/icons/$$icon; done

## install: make release and make stage, for a machine without the package (make deb is the way for Debian)
install: setup release stage
	@echo "installed under $(DESTDIR)$(PREFIX); enable with: systemctl --user daemon-reload && systemctl --user enable --now quiesce"

## deb: quiesce_$(VERSION)_amd64.deb in the tree, built with debhelper (debian/) and checked by lintian
deb:
	@scripts/deb.sh build $(VERSION)

## deb-check: make deb, then install the package, run it under a systemd user manager, purge it and
## check nothing is left (CI runs this after make test; root, and it installs on this machine)
deb-check: deb
	@scripts/deb.sh check $(VERSION)

## screenshots: the pictures in docs/images/, taken of the real desktop programs on Xvfb (GNOME's
## logout dialog listing the agent's work; the tray on xfce4-panel). Not part of make test; needs the
## packages the scripts name (SCREENSHOT_PACKAGES, installed here when run as root).
SCREENSHOT_PACKAGES = gnome-shell gnome-session-bin imagemagick xdotool fonts-cantarell webp-pixbuf-loader xfce4-panel xfconf
screenshots: setup
	@if [ "$$(id -u)" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(SCREENSHOT_PACKAGES) >/dev/null; fi
	$(SWIFT) build $(BUILD_FLAGS) --product agentd
	$(SWIFT) build $(BUILD_FLAGS) --product agentctl
	@mkdir -p docs/images
	QUIESCE_BIN=$$($(SWIFT) build --show-bin-path) scripts/screenshots/logout-dialog.sh docs/images/logout-dialog.png
	@for script in scripts/screenshots/*.sh; do \
		[ "$$script" = scripts/screenshots/logout-dialog.sh ] && continue; \
		QUIESCE_BIN=$$($(SWIFT) build --show-bin-path) $$script docs/images || exit 1; \
	done

## man: regenerate docs/agentctl.1 and docs/agentd.1 from the commands' help
man:
	$(SWIFT) package --disable-sandbox generate-manual
	@# A blank line in mdoc is a paragraph to some readers and a warning to man --warnings (lintian): .Pp says it.
	for page in agentctl agentd; do sed 's/^$$/.Pp/' .build/plugins/GenerateManual/outputs/$$page/$$page.1 > docs/$$page.1; done

clean:
	$(SWIFT) package clean
