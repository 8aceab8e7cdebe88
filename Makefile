# The two set-up commands (as root on Debian 12; they install what is missing):
#   make run   — build the release preset and start evald on 127.0.0.1:8080
#   make test  — every test: the dev suite (unit, integration, style, Windows, systemd,
#                container), the unit and integration suites again under ASan+UBSan and
#                under TSan, and each libFuzzer target for FUZZ_SECONDS (CI runs this)
# Parts: make test-dev (the inner loop), make sanitizers, make fuzz.
.PHONY: run test test-dev build-release build-server build-dev sanitizers fuzz bench format format-check clean deps package install
FUZZ_SECONDS ?= 60
# Clients the integration, OpenAPI and browser tests drive the server with (Debian packages).
TEST_TOOLS := wrk slowhttptest redis-server curl openssl chromium chromium-driver python3-selenium python3-jsonschema

deps:
	bash scripts/setup.sh

build-release: deps
	cmake --preset release
	cmake --build --preset release

# Only the server: `make run` compiles no test or benchmark binary before serving.
build-server: deps
	cmake --preset release
	cmake --build --preset release --target evald

build-dev: deps
	cmake --preset dev
	cmake --build --preset dev

run: build-server
	./build/release/evald --config config/evald.json

test: test-dev sanitizers fuzz
	@echo "make test: every stage passed"

test-dev: build-dev
	bash scripts/setup.sh $(TEST_TOOLS)
	ctest --preset dev

# make install [PREFIX=/usr/local] [DESTDIR=]: the binary, its config, the man page and the
# systemd units (which name the installed paths). Then `evald --config
# $(PREFIX)/etc/evald/evald.json` runs it; the .deb (make package) installs under /usr.
PREFIX ?= /usr/local
install: deps
	cmake --preset release -DCMAKE_INSTALL_PREFIX=$(PREFIX)
	cmake --build --preset release --target evald
	DESTDIR=$(DESTDIR) cmake --install build/release

# build/package/evald_<version>_amd64.deb (binary, config, systemd units, man page).
package: deps
	cmake --preset package
	cmake --build --preset package
	cd build/package && cpack -G DEB

# ASan+UBSan and TSan builds of the unit and integration suites (the deployment
# tests build their own binaries, and style does not depend on the build).
sanitizers: deps
	bash scripts/setup.sh $(TEST_TOOLS)
	cmake --preset asan && cmake --build --preset asan && ctest --preset asan -L "unit|integration"
	cmake --preset tsan && cmake --build --preset tsan && ctest --preset tsan -L "unit|integration"

# libFuzzer targets (clang): each runs FUZZ_SECONDS from the checked-in seed corpus.
fuzz: deps
	bash scripts/setup.sh clang libclang-rt-14-dev
	cmake --preset fuzz -DEVALD_FUZZ_SECONDS=$(FUZZ_SECONDS) && cmake --build --preset fuzz
	ctest --preset fuzz

# FLINT (libflint-dev) is the peer of bench_vs_flint: installed before the configure that
# looks for it.
bench: deps
	bash scripts/setup.sh libflint-dev
	cmake --preset release
	cmake --build --preset release
	./build/release/bench/bench_kernels
	./build/release/bench/bench_vs_flint
	./build/release/bench/bench_eval_parse
	/usr/bin/python3 bench/big_body_latency.py 5
	bash bench/healthz_wrk.sh 10
	bash bench/dashboard_cost.sh 10
	bash bench/chargen_throughput.sh 5
	./build/release/bench/bench_script
	bash bench/scripts_wrk.sh 10
	bash bench/fairness.sh 5 1000 script
	python3 bench/scripts_vs_redis.py 2
	bash bench/detector_wrk.sh 10
	bash scripts/setup.sh redis-server && /usr/bin/python3 bench/cluster_jobs.py 600

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf build
