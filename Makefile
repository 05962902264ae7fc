# quern — proof-of-useful-work chain node.
GO      ?= go
BIN     := bin/quern
DATADIR ?= .devnet
PKGS    := ./...

.PHONY: all build test soak bench run clean fmt vet

all: build

build:
	$(GO) build -o $(BIN) ./cmd/quern

# The default suite: unit tests, real badger/libp2p, and end-to-end runs of the
# built binary on 127.0.0.1. Long soaks sit behind -quern.long (make soak).
test:
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 25m $(PKGS)

soak:
	$(GO) test -count=1 -timeout 60m -run 'Soak' -v ./cmd/quern -args -quern.long

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

clean:
	rm -rf bin $(DATADIR)
