# socklb — build, test, demo.  `make help` lists the targets.
BUILD      ?= build
CLANG      ?= clang
BPFTOOL    ?= bpftool
CC         ?= gcc
PYTHON     ?= /usr/bin/python3
VERSION    ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

ARCH       := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
PKGS       := libbpf libelf zlib json-c libcares libmicrohttpd libcurl
CWARN      := -Wall -Wextra -Werror
# Messages are built with snprintf into fixed buffers: cutting one short is intended.
USER_CWARN := $(CWARN) -Wno-format-truncation
CFLAGS     ?= -O2 -g
USER_CFLAGS = $(CFLAGS) $(USER_CWARN) -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser -I$(BUILD) \
              -DSOCKLB_VERSION='"$(VERSION)"' $(shell pkg-config --cflags $(PKGS))
USER_LIBS   = $(shell pkg-config --libs $(PKGS))
BPF_CFLAGS  = -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) $(CWARN) -Iinclude -Ibpf -I$(BUILD)

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
SKELS      := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
USER_SRCS  := $(wildcard user/*.c)
USER_OBJS  := $(patsubst user/%.c,$(BUILD)/user/%.o,$(USER_SRCS))
UNIT_SRCS  := $(wildcard tests/unit/*.c)

.SECONDARY:
.PHONY: all deps test unit-test e2e-test deploy-test bench-test demo bench bench-quick clean help format
all: $(BUILD)/socklb

help:
	@echo "make            build bpf objects, skeletons and $(BUILD)/socklb"
	@echo "make deps       install every Debian package needed to build, test and demo"
	@echo "make demo       build, then show calls per pod without and with socklb"
	@echo "make test       run every test (unit tests, then end-to-end in netns)"
	@echo "make clean      remove $(BUILD)/"

deps:
	./scripts/install-deps.sh

# vmlinux.h from the running kernel's BTF; the committed copy when there is none.
$(BUILD)/vmlinux.h:
	@mkdir -p $(BUILD)
	@if [ -r /sys/kernel/btf/vmlinux ]; then \
		$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp; \
	else \
		echo "no /sys/kernel/btf/vmlinux: using bpf/vmlinux-fallback.h.xz"; \
		xz -dc bpf/vmlinux-fallback.h.xz > $@.tmp; \
	fi && mv $@.tmp $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c bpf/*.h include/socklb.h $(BUILD)/vmlinux.h
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@.tmp && mv $@.tmp $@

$(BUILD)/user/%.o: user/%.c user/*.h include/socklb.h $(SKELS)
	@mkdir -p $(BUILD)/user
	$(CC) $(USER_CFLAGS) -c $< -o $@

$(BUILD)/socklb: $(USER_OBJS)
	$(CC) $(USER_CFLAGS) $^ $(USER_LIBS) -o $@

# Unit tests: Check, built with AddressSanitizer and UBSan.
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
$(BUILD)/unit_tests: $(UNIT_SRCS) $(filter-out user/main.c user/agent_cli.c user/status.c,$(USER_SRCS)) user/*.h include/socklb.h $(SKELS)
	$(CC) $(USER_CFLAGS) $(SAN) -Itests/unit $(filter %.c,$^) $(USER_LIBS) \
		$(shell pkg-config --libs check) -o $@

# The map tests pin into /sys/fs/bpf: mount the BPF filesystem if it is not.
unit-test: $(BUILD)/unit_tests
	@mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	$(BUILD)/unit_tests

e2e-test: $(BUILD)/socklb
	$(PYTHON) tests/e2e/runner.py tests/e2e/test_*.py

# Renders deploy/ offline and validates it against the Kubernetes schemas.
deploy-test: $(BUILD)/socklb tests/deploy/node_modules
	$(PYTHON) tests/e2e/runner.py tests/deploy/test_manifests.py

# The schema validator's npm packages (make deps installs them too).
tests/deploy/node_modules: tests/deploy/package-lock.json
	tests/deploy/install.sh
	@touch $@

# The benchmark harness in its quick mode: every mode must produce figures.
bench-test: $(BUILD)/socklb
	$(PYTHON) tests/e2e/runner.py tests/bench/test_bench_quick.py

test: unit-test e2e-test deploy-test bench-test

demo: $(BUILD)/socklb
	$(PYTHON) tests/e2e/demo.py

# Benchmarks: results/ gets results.json, results.md and calls_per_pod.png.
bench: $(BUILD)/socklb
	$(PYTHON) tests/bench/bench.py $(BENCH_ARGS)

bench-quick: $(BUILD)/socklb
	$(PYTHON) tests/bench/bench.py --quick $(BENCH_ARGS)

format:
	clang-format -i bpf/*.c bpf/*.h user/*.c user/*.h include/*.h tests/unit/*.c

clean:
	rm -rf $(BUILD)
