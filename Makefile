# quern — proof-of-useful-work chain node.
GO      ?= go
BIN     := bin/quern
DATADIR ?= .devnet
PKGS    := ./...

.PHONY: all build test soak fuzz bench run clean fmt vet

all: build

# The version and git commit that `quern version` prints (without them it
# falls back to the module's build info).
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GITCOMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS   := -X main.version=$(VERSION) -X main.gitCommit=$(GITCOMMIT)

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/quern

# The default suite: unit tests, real badger/libp2p, and end-to-end runs of the
# built binary on 127.0.0.1. Long soaks sit behind -quern.long (make soak).
test:
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 25m $(PKGS)

# Reliability soaks (about 10 minutes on 2 cores): SIGKILL cycles of a miner,
# four miners partitioned and healed under a transfer load, a 500-block sync.
# SOAKFLAGS sizes them, e.g. SOAKFLAGS='-soak.kills=50 -soak.partitions=5'
# (the -soak.* flags at the top of cmd/quern/soak_test.go).
SOAKFLAGS ?=
soak:
	$(GO) test -count=1 -timeout 60m -run '^(TestSoak|TestSyncSoak)$$' -v ./cmd/quern -args -quern.long $(SOAKFLAGS)

# Every fuzzer (found with go test -list), one after another, FUZZTIME each.
FUZZTIME ?= 30s
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

# Benchmarks print each kernel's GMAC/s beside its baselines (oneDNN, OpenBLAS,
# gonum, the theoretical peak), the reuse attack, seal and import, in one run
# with a summary table (docs/benchmarks.md). SKIP_ANCHOR=1 skips oneDNN.
bench:
	GO=$(GO) ./scripts/bench.sh

# A single-node devnet mining on the CPU: embedded genesis, funded dev account.
run: build
	./$(BIN) node --dev --mine --datadir $(DATADIR)

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	$(GO) vet $(PKGS)

# Also what the README walkthrough leaves in the working directory.
WALKTHROUGH := pw.txt empty.txt my-keys a.npy b.npy c.npy train.csv test.csv model .devnet2
clean:
	rm -rf bin $(DATADIR) $(WALKTHROUGH)
