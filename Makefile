# The two commands of the README:
#   make bench   build, then run the benchmark (the main job) with defaults
#   make test    build and run every test: plain, ASan+UBSan, TSan, fuzzers
BUILD ?= build
GEN := $(shell command -v ninja >/dev/null 2>&1 && echo -G Ninja)
JOBS ?= $(shell nproc)

.PHONY: all bench test install clean

all: $(BUILD)/.configured
	cmake --build $(BUILD) -j $(JOBS)

$(BUILD)/.configured:
	cmake -S . -B $(BUILD) $(GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	touch $@

# The Rust rows come from the crate's prebuilt example bench, the peer rows
# (Tachyon, iceoryx2) from bench/peers: both are built when cargo exists (no
# cargo, or a failed build: those rows are skipped or stale).
bench: all
	@if command -v cargo >/dev/null 2>&1; then \
	  (cd rust && cargo build --release -p zipc --example bench) || \
	    echo "make bench: cargo build of the Rust bench failed; its rows may be skipped" >&2; \
	else echo "make bench: no cargo: the Rust bench is not (re)built" >&2; fi
	@$(MAKE) --no-print-directory bench-peers
	./$(BUILD)/zipc bench

# bench/peers (its own Cargo workspace): each peer is a cargo feature, so a
# peer that fails to build is left out and the other still builds. Tachyon's
# C++ core needs C++23: Debian 12's clang-19 builds it (its GCC 12 does not),
# and its bindgen needs libclang.
PEERS_CARGO = cargo build --release --manifest-path bench/peers/Cargo.toml --no-default-features
PEERS_CXX = $(shell command -v clang++-19 >/dev/null 2>&1 && echo CC=clang-19 CXX=clang++-19)

.PHONY: bench-peers
bench-peers:
	@if ! command -v cargo >/dev/null 2>&1; then \
	  echo "make bench: no cargo: peer rows (tachyon, iceoryx2) skipped" >&2; exit 0; fi; \
	if [ -z "$(PEERS_CXX)" ]; then \
	  echo "make bench: no clang-19: tachyon rows skipped (its C++ core needs C++23; apt-get install clang-19)" >&2; \
	  $(PEERS_CARGO) --features iceoryx2 || \
	    echo "make bench: iceoryx2 failed to build: its rows skipped" >&2; \
	elif ! env $(PEERS_CXX) $(PEERS_CARGO) --features tachyon,iceoryx2; then \
	  if env $(PEERS_CXX) $(PEERS_CARGO) --features iceoryx2; then \
	    echo "make bench: tachyon-ipc failed to build: tachyon rows skipped" >&2; \
	  elif env $(PEERS_CXX) $(PEERS_CARGO) --features tachyon; then \
	    echo "make bench: iceoryx2 failed to build: iceoryx2 rows skipped" >&2; \
	  else echo "make bench: neither peer built: peer rows skipped" >&2; fi; \
	fi

test:
	./tests/run_all.sh

install: all
	cmake --install $(BUILD)

clean:
	rm -rf build build-*
