# The two commands a newcomer needs: `make run` and `make test`.
# Go 1.27.3 (go.mod): the go command fetches that toolchain from the module proxy; a machine
# starts on its own Go and ignores go.mod's line, so the export is needed wherever go runs.
export GOTOOLCHAIN := go1.27.3
GO ?= go

.PHONY: run test build vet fmt bench bench-go bench-harness services testtools check fuzz security soak

## run: start PostgreSQL/Redis if needed, then the sandbox (fake Telegram + demo data) on http://127.0.0.1:8080/
run: services
	$(GO) run ./cmd/kezekbot sandbox

## test: start PostgreSQL/Redis if needed, install the browser for the browser tests if missing, vet, then every test with the race detector
test: services testtools
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...
	@bash scripts/testtools.sh check

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/kezekbot ./cmd/kezekbot

## bench: every number of README's Performance section: the Go benchmarks, then the bench harness
bench: bench-go bench-harness

bench-go: services
	$(GO) test -run '^$$' -bench . -benchmem ./...

## bench-harness: kezekbot, then grammY and nullbot, through ../shared/bench (JSON lines; ~4 min)
bench-harness: services
	bash scripts/bench-harness.sh

services:
	@bash scripts/services.sh

testtools:
	@bash scripts/testtools.sh

## check: govulncheck (database built locally from golang.org/x/vulndb), staticcheck, gosec; pinned versions (scripts/check.sh)
check:
	@bash scripts/check.sh

## fuzz: each fuzz target of outside input for FUZZTIME (3s); crashers land in testdata/fuzz (scripts/fuzz.sh)
fuzz:
	@bash scripts/fuzz.sh

## security: print the security figures (fuzzed updates, tampered XML, rate limit under a flood) (scripts/security.sh)
security:
	@bash scripts/security.sh

## soak: the chaos soak for SOAK_DURATION (default 3m): two real webhook replicas on a Redis and a
## PostgreSQL of its own (never the shared 6379/5432), replicas SIGKILLed, Redis and PostgreSQL
## restarted at random; prints one JSON line (SOAK {...}) and a table (cmd/kezekbot/soak_test.go)
SOAK_DURATION ?= 3m
soak: services
	KEZEKBOT_SOAK=1 KEZEKBOT_SOAK_DURATION=$(SOAK_DURATION) $(GO) test -run '^TestSoak$$' -count=1 -v -timeout 30m ./cmd/kezekbot/
