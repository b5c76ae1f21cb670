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

bench: all
	./$(BUILD)/zipc bench

test:
	./tests/run_all.sh

install: all
	cmake --install $(BUILD)

clean:
	rm -rf build build-*
