# The two commands of the README:
#   make bench   build, then run the benchmark (the main job) with defaults
#   make test    build and run every test: plain, ASan+UBSan, TSan, fuzzers
BUILD ?= build
GEN := $(shell command -v ninja >/dev/null 2>&1 && echo -G Ninja)
JOBS ?= $(shell nproc)

.PHONY: all bench bench-python-env test install clean

all: $(BUILD)/.configured
	cmake --build $(BUILD) -j $(JOBS)

$(BUILD)/.configured:
	cmake -S . -B $(BUILD) $(GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	touch $@

# The Rust rows come from the crate's prebuilt example bench, the peer rows
# (Tachyon, iceoryx2) from bench/peers: both are built when cargo exists (no
# cargo, or a failed build: those rows are skipped or stale). The Python rows
# run in build-py/venv (bench-python-env), then python -m zipc.bench_store
# (its torch rows need torch in that venv's Python: apt-get install python3-torch).
bench: all bench-python-env
	@if command -v cargo >/dev/null 2>&1; then \
	  (cd rust && cargo build --release -p zipc --example bench) || \
	    echo "make bench: cargo build of the Rust bench failed; its rows may be skipped" >&2; \
	else echo "make bench: no cargo: the Rust bench is not (re)built" >&2; fi
	@$(MAKE) --no-print-directory bench-peers
	ZIPC_PYTHON=$$([ -x $(BENCH_PY) ] && echo $(BENCH_PY) || echo python3) ./$(BUILD)/zipc bench --plot $(BUILD)/bench.svg
	@# the tensor store: N worker processes loading one model, against safetensors and torch
	@if [ -x $(BENCH_PY) ]; then $(BENCH_PY) -m zipc.bench_store $(BENCH_STORE_ARGS) || \
	  echo "make bench: the tensor store benchmark failed" >&2; \
	else echo "make bench: no Python venv: the tensor store rows are skipped" >&2; fi
	@# the bridge: zipc bridge against plain pyzmq between two network namespaces (loopback if not root)
	@if [ -x $(BENCH_PY) ]; then $(BENCH_PY) -m zipc.bench_bridge --zipc ./$(BUILD)/zipc || \
	  echo "make bench: the bridge benchmark failed" >&2; \
	else echo "make bench: no Python venv: the bridge rows are skipped" >&2; fi

# The Python rows: the extension built into build-py/venv (as tests/run_all.sh
# does), with NumPy and the peers they are compared with. A peer that fails to
# install only loses its rows (they say why); no venv, no Python rows.
BENCH_VENV := build-py/venv
BENCH_PY := $(BENCH_VENV)/bin/python
BENCH_PIP := $(BENCH_PY) -m pip install -q --disable-pip-version-check
BENCH_PEERS := pyzmq faster-fifo iceoryx2 ipc0cp safetensors
BENCH_STORE_ARGS ?= --mib 1024 --procs 1,4,16
BENCH_PY_SOURCES := $(wildcard python/zipc/*.c python/zipc/*.h python/zipc/*.py src/*.c src/*.h \
                      include/*.h include/zipc/*.h examples/c_producer.c) setup.py pyproject.toml

bench-python-env:
	@$(MAKE) --no-print-directory build-py/.bench-env || \
	  echo "make bench: no Python venv (log: build-py/bench-env.log): the Python rows are skipped" >&2

build-py/.bench-env: $(BENCH_PY_SOURCES)
	@mkdir -p build-py
	@echo "make bench: building zipc into $(BENCH_VENV) and installing NumPy and the Python peers" >&2
	{ [ -x $(BENCH_PY) ] || python3 -m venv --system-site-packages $(BENCH_VENV); } >build-py/bench-env.log 2>&1
	$(BENCH_PIP) setuptools wheel numpy matplotlib >>build-py/bench-env.log 2>&1
	$(BENCH_PIP) --no-build-isolation --force-reinstall --no-deps . >>build-py/bench-env.log 2>&1
	@for p in $(BENCH_PEERS); do $(BENCH_PIP) $$p >>build-py/bench-env.log 2>&1 || \
	  echo "make bench: pip install $$p failed (build-py/bench-env.log): its rows are skipped" >&2; done
	@# tachyon-ipc is C++23: GCC 12 refuses it; Debian's clang-19 builds it, linked with gold and LTO
	@if $(BENCH_PY) -c 'import tachyon' 2>/dev/null; then :; \
	elif command -v clang-19 >/dev/null 2>&1; then \
	  CC=clang-19 CXX=clang++-19 LDFLAGS="-flto -fuse-ld=gold" $(BENCH_PIP) tachyon-ipc >>build-py/bench-env.log 2>&1 || \
	    echo "make bench: pip install tachyon-ipc failed (build-py/bench-env.log): its rows are skipped" >&2; \
	else echo "make bench: no clang-19 (apt-get install clang-19): the tachyon-ipc rows are skipped" >&2; fi
	@touch $@

# bench/peers (its own Cargo workspace): zipc's rows and the peers', each
# peer a cargo feature, so a peer that fails to build is left out (its rows
# say so) and the rest still builds. Tachyon's C++ core needs C++23: Debian
# 12's clang-19 builds it (its GCC 12 does not).
PEERS_CARGO = cargo build --release --manifest-path bench/peers/Cargo.toml --no-default-features
PEERS_CXX = $(shell command -v clang++-19 >/dev/null 2>&1 && echo CC=clang-19 CXX=clang++-19)

.PHONY: bench-peers
bench-peers:
	@if ! command -v cargo >/dev/null 2>&1; then \
	  echo "make bench: no cargo: peer rows (tachyon, iceoryx2) skipped" >&2; exit 0; fi; \
	sets="tachyon,iceoryx2 iceoryx2 tachyon -"; \
	if [ -z "$(PEERS_CXX)" ]; then sets="iceoryx2 -"; \
	  echo "make bench: no clang-19: tachyon rows skipped (its C++ core needs C++23; apt-get install clang-19)" >&2; fi; \
	for f in $$sets; do \
	  [ "$$f" = - ] && f=""; \
	  if env $(PEERS_CXX) $(PEERS_CARGO) --features "$$f"; then \
	    for p in tachyon iceoryx2; do case ",$$f," in *,$$p,*) ;; *) \
	      [ $$p = tachyon ] && [ -z "$(PEERS_CXX)" ] || \
	        echo "make bench: $$p failed to build: its rows skipped (cargo's errors above)" >&2;; esac; done; \
	    exit 0; fi; \
	done; echo "make bench: bench/peers failed to build: peer rows skipped or stale" >&2

test:
	./tests/run_all.sh

install: all
	cmake --install $(BUILD)

clean:
	rm -rf build build-*
