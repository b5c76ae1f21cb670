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

# The Rust rows come from the crate's prebuilt example bench: build it when
# cargo exists (no cargo, or a failed build: those rows are skipped or stale).
bench: all
	@if command -v cargo >/dev/null 2>&1; then \
	  (cd rust && cargo build --release -p zipc --example bench) || \
	    echo "make bench: cargo build of the Rust bench failed; its rows may be skipped" >&2; \
	else echo "make bench: no cargo: the Rust bench is not (re)built" >&2; fi
	./$(BUILD)/zipc bench

test:
	./tests/run_all.sh

install: all
	cmake --install $(BUILD)

clean:
	rm -rf build build-*
