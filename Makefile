# A thin wrapper over Meson: the README's two commands and a few helpers.
#   make          build build/outpost
#   make run      start the demo server (./run, loopback, ports 10025...)
#   make check    install dependencies, build (normal, ASan+UBSan, fuzz),
#                 run unit, fuzz and integration tests
#   make fuzz SECS=N   run every fuzz target for N seconds
#   make docs     regenerate docs/config.md from the config schema

SECS ?= 20
# make check gives each target less: 19 targets must leave time for the rest
# of the 20-minute budget on two cores.
CHECK_SECS ?= 10
PYTEST ?= /usr/bin/python3 -m pytest

.PHONY: all deps build run check unit asan-build asan fuzz fuzz-build integration docs clean

all: build

build:
	@test -f build/build.ninja || meson setup build
	ninja -C build

deps:
	@bash scripts/deps.sh

run: deps
	@$(MAKE) --no-print-directory build
	@bash scripts/run-demo.sh

unit: build
	meson test -C build --print-errorlogs

asan-build:
	@test -f build-asan/build.ninja || meson setup build-asan --buildtype=debug \
		-Db_sanitize=address,undefined -Db_lundef=false -Dc_args=-fno-sanitize-recover=all
	ninja -C build-asan

asan: asan-build
	meson test -C build-asan --print-errorlogs

fuzz-build:
	@test -f build-fuzz/build.ninja || CC=clang meson setup build-fuzz --buildtype=debug \
		-Dfuzz=true -Db_lundef=false
	ninja -C build-fuzz

fuzz: fuzz-build
	@bash scripts/fuzz.sh build-fuzz $(SECS)

integration: build asan-build
	OUTPOST_BIN=$(CURDIR)/build-asan/outpost $(PYTEST) -q tests/integration

docs: build
	build/outpost config defaults --markdown > docs/config.md

check: deps
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory asan
	$(MAKE) --no-print-directory fuzz SECS=$(CHECK_SECS)
	$(MAKE) --no-print-directory integration

clean:
	rm -rf build build-asan build-fuzz
