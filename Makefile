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
