# socklb — build, test, demo.  `make help` lists the targets; `make V=1` shows commands.
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
DEPFLAGS    = -MMD -MP
USER_CFLAGS = $(CFLAGS) $(USER_CWARN) $(DEPFLAGS) -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser \
              -I$(BUILD) -DSOCKLB_VERSION='"$(VERSION)"' $(shell pkg-config --cflags $(PKGS))
USER_LIBS   = $(shell pkg-config --libs $(PKGS))
BPF_CFLAGS  = -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) $(CWARN) $(DEPFLAGS) -Iinclude -Ibpf \
              -I$(BUILD)
# Unit tests and the sanitizer build of the agent: AddressSanitizer and UBSan.
SAN        := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

ifeq ($(V),1)
Q   :=
msg  = @true
else
Q   := @
msg  = @printf '  %-7s %s\n' "$(1)" "$(2)"
endif

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
SKELS      := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
USER_SRCS  := $(sort $(shell find user -name '*.c'))
USER_OBJS  := $(patsubst user/%.c,$(BUILD)/obj/%.o,$(USER_SRCS))
# The unit tests link every module but the command line (main.c and cli/).
LIB_SRCS   := $(filter-out user/main.c user/cli/%,$(USER_SRCS))
SAN_OBJS   := $(patsubst user/%.c,$(BUILD)/san/%.o,$(USER_SRCS))
SAN_LIB    := $(patsubst user/%.c,$(BUILD)/san/%.o,$(LIB_SRCS))
UNIT_SRCS  := $(sort $(shell find tests/unit -name '*.c'))
UNIT_OBJS  := $(patsubst tests/unit/%.c,$(BUILD)/unit/%.o,$(UNIT_SRCS))
BPFT_SRCS  := $(sort $(wildcard tests/bpf/*.c))
BPFT_OBJS  := $(patsubst tests/bpf/%.c,$(BUILD)/bpftest/%.o,$(BPFT_SRCS))
# libFuzzer harnesses (tests/fuzz/fuzz_*.c), each linked against every module
# but main.c, compiled by clang with the fuzzer's coverage and ASan + UBSan.
FUZZ_SRCS  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES := $(patsubst tests/fuzz/%.c,%,$(FUZZ_SRCS))
FUZZ_BINS  := $(addprefix $(BUILD)/fuzz/,$(FUZZ_NAMES))
FUZZ_LIB   := $(patsubst user/%.c,$(BUILD)/fuzz/obj/%.o,$(filter-out user/main.c,$(USER_SRCS)))
FUZZ_SAN   := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS = -O1 -g $(CWARN) $(DEPFLAGS) -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser -I$(BUILD) \
              -DSOCKLB_VERSION='"$(VERSION)"' $(shell pkg-config --cflags $(PKGS)) $(FUZZ_SAN)
# `make fuzz` fuzzes each harness this long; `make test` (fuzz-test) 60 s in CI, 15 s here.
FUZZ_SECONDS ?= 60
ifeq ($(CI),true)
FUZZ_TEST_SECONDS ?= 60
else
FUZZ_TEST_SECONDS ?= 15
endif
# Bench-only BPF objects (the minimal connect hook socklb is measured against).
BENCH_BPF  := $(patsubst tests/bench/bpf/%.bpf.c,$(BUILD)/bench/%.bpf.o,$(wildcard tests/bench/bpf/*.bpf.c))

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all deps test unit-test bpf-test e2e-test deploy-test container-test bench-test demo \
        bench bench-quick san clean help format fuzz fuzz-build fuzz-test e2e-san-test \
        e2e-valgrind-test soak soak-test
all: $(BUILD)/socklb

help:
	@echo "make              build bpf objects, skeletons and $(BUILD)/socklb"
	@echo "make deps         install every Debian package needed to build, test and demo"
	@echo "make demo         build, then show calls per pod without and with socklb"
	@echo "make test         every test: unit-test, fuzz-test, bpf-test, e2e-test, e2e-san-test,"
	@echo "                  deploy-test, container-test, bench-test"
	@echo "make unit-test    Check unit tests (ASan + UBSan)"
	@echo "make bpf-test     program-level tests of the BPF programs on real sockets (root)"
	@echo "make e2e-test     end-to-end tests with real gRPC peers in network namespaces"
	@echo "make e2e-san-test e2e tests (core, k8s, dns, rebalance, metrics, cluster) with the agent"
	@echo "                  built with ASan + UBSan: any sanitizer or leak report fails the test;"
	@echo "                  part of make test"
	@echo "make e2e-valgrind-test  test_core.py with the agent under valgrind (memcheck, leaks)"
	@echo "make soak         the soak (tests/e2e/soak.py): a 3-node rig under churn and faults for"
	@echo "                  DURATION (30m; 90s, 2h ...), invariants checked all along"
	@echo "make soak-test    the soak for 3 minutes, part of make test"
	@echo "make deploy-test  render deploy/ offline and validate it against the Kubernetes schemas"
	@echo "make container-test  build the image (podman) and run it under the DaemonSet's context"
	@echo "make bench-test   the benchmark harness in its quick mode (every mode gives figures)"
	@echo "make bench        the full benchmark: results/ gets results.json, .md and plots"
	@echo "make bench-quick  the benchmark's quick mode alone"
	@echo "make san          $(BUILD)/socklb-san: the agent built with ASan + UBSan"
	@echo "make fuzz         build the libFuzzer harnesses ($(BUILD)/fuzz/) and run each for"
	@echo "                  FUZZ_SECONDS (60) on a copy of its corpus; fails on any finding"
	@echo "make fuzz-test    the same for 15 s each (60 s with CI=true), part of make test"
	@echo "make format       clang-format every C file"
	@echo "make clean        remove $(BUILD)/"
	@echo "V=1 shows every command"

deps:
	./scripts/install-deps.sh

# vmlinux.h from the running kernel's BTF; the committed copy when there is none.
$(BUILD)/vmlinux.h:
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(BUILD)
	$(Q)if [ -r /sys/kernel/btf/vmlinux ]; then \
		$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp; \
	else \
		echo "no /sys/kernel/btf/vmlinux: using bpf/vmlinux-fallback.h.xz"; \
		xz -dc bpf/vmlinux-fallback.h.xz > $@.tmp; \
	fi && mv $@.tmp $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(BUILD)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/bench/%.bpf.o: tests/bench/bpf/%.bpf.c $(BUILD)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@.tmp && mv $@.tmp $@

# Skeletons first (order-only): after that the .d files know who includes them.
$(BUILD)/obj/%.o: user/%.c | $(SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(USER_CFLAGS) -c $< -o $@

$(BUILD)/san/%.o: user/%.c | $(SKELS)
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(USER_CFLAGS) $(SAN) -c $< -o $@

$(BUILD)/unit/%.o: tests/unit/%.c | $(SKELS)
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(USER_CFLAGS) $(SAN) -Itests/unit -c $< -o $@

$(BUILD)/bpftest/%.o: tests/bpf/%.c | $(SKELS)
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(USER_CFLAGS) $(SAN) -Itests/bpf -c $< -o $@

$(BUILD)/fuzz/obj/%.o: user/%.c | $(SKELS)
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

# An archive: each harness pulls in only the modules it reaches.
$(BUILD)/fuzz/libsocklb.a: $(FUZZ_LIB)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/fuzz/%: tests/fuzz/%.c $(BUILD)/fuzz/libsocklb.a
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -Itests/fuzz -fsanitize=fuzzer $< $(BUILD)/fuzz/libsocklb.a \
		$(USER_LIBS) -o $@

$(BUILD)/socklb: $(USER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(USER_LIBS) -o $@

$(BUILD)/socklb-san: $(SAN_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(SAN) $^ $(USER_LIBS) -o $@

san: $(BUILD)/socklb-san

$(BUILD)/unit_tests: $(UNIT_OBJS) $(SAN_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(SAN) $^ $(USER_LIBS) $(shell pkg-config --libs check) -o $@

$(BUILD)/bpf_tests: $(BPFT_OBJS) $(SAN_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(SAN) $^ $(USER_LIBS) $(shell pkg-config --libs check) -o $@

# The map tests pin into /sys/fs/bpf: mount the BPF filesystem if it is not.
unit-test: $(BUILD)/unit_tests
	@mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	$(BUILD)/unit_tests

bpf-test: $(BUILD)/bpf_tests
	@mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	$(BUILD)/bpf_tests
	@# Again, the way a kernel without map-element iterators is run (conn_walk.h).
	SOCKLB_TEST_NO_MAP_ELEM_ITERS=1 CK_RUN_SUITE=bpf_iter $(BUILD)/bpf_tests

e2e-test: $(BUILD)/socklb
	$(PYTHON) tests/e2e/runner.py tests/e2e/test_*.py

# The agent under test runs as SOCKLB_AGENT (under SOCKLB_AGENT_WRAPPER); each
# checker logs into SOCKLB_REPORT_DIR, and a report fails the test that was
# running (tests/e2e/reports.py).  Sanitizers stop at the first report, and
# LeakSanitizer runs when the agent exits on SIGTERM.
E2E_SAN_TESTS := $(addprefix tests/e2e/,test_core.py test_k8s.py test_dns.py test_rebalance.py \
                   test_metrics.py test_cluster.py)
REPORTS     = $(abspath $(BUILD))/e2e-reports
e2e-san-test: $(BUILD)/socklb $(BUILD)/socklb-san
	@rm -rf $(REPORTS)/san && mkdir -p $(REPORTS)/san
	SOCKLB_AGENT=$(abspath $(BUILD))/socklb-san SOCKLB_REPORT_DIR=$(REPORTS)/san \
	ASAN_OPTIONS=halt_on_error=1:exitcode=66:detect_leaks=1:log_path=$(REPORTS)/san/asan \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=66:log_path=$(REPORTS)/san/ubsan \
	$(PYTHON) tests/e2e/runner.py $(E2E_SAN_TESTS)

# valgrind makes the agent 20-50 times slower: what waits for it waits 10 times longer.
# valgrind.supp: false reports of valgrind's own bpf(2) wrapper, nothing of ours.
VALGRIND    = valgrind --error-exitcode=99 --leak-check=full --suppressions=tests/e2e/valgrind.supp \
              --log-file=$(REPORTS)/valgrind/valgrind.%p
e2e-valgrind-test: $(BUILD)/socklb
	@rm -rf $(REPORTS)/valgrind && mkdir -p $(REPORTS)/valgrind
	SOCKLB_AGENT_WRAPPER="$(VALGRIND)" SOCKLB_TIMEOUT_SCALE=10 \
	SOCKLB_REPORT_DIR=$(REPORTS)/valgrind $(PYTHON) tests/e2e/runner.py tests/e2e/test_core.py

# Renders deploy/ offline and validates it against the Kubernetes schemas.
deploy-test: $(BUILD)/socklb tests/deploy/node_modules
	$(PYTHON) tests/e2e/runner.py tests/deploy/test_manifests.py

# The schema validator's npm packages (make deps installs them too).
tests/deploy/node_modules: tests/deploy/package-lock.json
	tests/deploy/install.sh
	@touch $@

# The image built with podman from a local debootstrap base, run under the
# DaemonSet's securityContext, then without each capability it adds.
container-test: $(BUILD)/socklb
	$(PYTHON) tests/e2e/runner.py --timeout 1500 tests/container/test_container.py

# The benchmark harness in its quick mode: every mode must produce figures.
bench-test: $(BUILD)/socklb $(BENCH_BPF)
	$(PYTHON) tests/e2e/runner.py --timeout 660 tests/bench/test_bench_quick.py

# The soak (tests/e2e/soak.py), niced: it takes about one core.  DURATION: 30m, 90s, 2h.
DURATION ?= 30m
SOAK_SECONDS = $(shell $(PYTHON) -c 'import sys; d = sys.argv[1]; \
  print(int(float(d[:-1]) * {"s": 1, "m": 60, "h": 3600}[d[-1]] if d[-1] in "smh" else int(d)))' \
  $(DURATION))
SOAK_RESULTS ?= $(abspath $(BUILD))/soak-results.json
soak: $(BUILD)/socklb
	SOCKLB_SOAK_SECONDS=$(SOAK_SECONDS) SOCKLB_SOAK_RESULTS=$(SOAK_RESULTS) \
	nice -n 10 $(PYTHON) tests/e2e/runner.py --timeout $$(($(SOAK_SECONDS) + 900)) tests/e2e/soak.py

soak-test: $(BUILD)/socklb
	$(MAKE) soak DURATION=180s SOAK_RESULTS=$(abspath $(BUILD))/soak-test-results.json

fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	tests/fuzz/run.sh $(FUZZ_SECONDS) $(BUILD)/fuzz $(FUZZ_NAMES)

fuzz-test: $(FUZZ_BINS)
	tests/fuzz/run.sh $(FUZZ_TEST_SECONDS) $(BUILD)/fuzz $(FUZZ_NAMES)

# Of it, here on 2 shared cores: fuzz-test 3 min (10.5 with CI=true), e2e-san-test 7,
# soak-test 3.5.
test: unit-test fuzz-test bpf-test e2e-test e2e-san-test soak-test deploy-test container-test \
      bench-test

demo: $(BUILD)/socklb
	$(PYTHON) tests/e2e/demo.py

# Benchmarks: results/ gets results.json, results.md and calls_per_pod.png.
bench: $(BUILD)/socklb $(BENCH_BPF)
	$(PYTHON) tests/bench/bench.py $(BENCH_ARGS)

bench-quick: $(BUILD)/socklb $(BENCH_BPF)
	$(PYTHON) tests/bench/bench.py --quick $(BENCH_ARGS)

format:
	clang-format -i $$(find bpf include user tests/unit tests/bpf tests/fuzz -name '*.[ch]')

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
