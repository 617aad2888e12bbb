# Appliance: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
DOTNET ?= dotnet
CONFIG ?= Release
RID ?= linux-x64
DIST ?= dist
SAMPLE ?= .sample
export DOTNET_CLI_TELEMETRY_OPTOUT := 1
export DOTNET_NOLOGO := 1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE := 1

# Tests tagged Slow (soak, long load) are left out of `make test`; `make test-all` runs them too.
TEST_FILTER ?= Category!=Slow

.PHONY: deps build test test-all test-tcp-engine publish smoke run bench bench-gate loadtest fuzz clean

deps:
	@bash scripts/install-deps.sh

build:
	$(DOTNET) build Appliance.sln -c $(CONFIG)

test: deps build
	@bash scripts/run-tests.sh "$(CONFIG)" "$(TEST_FILTER)"

test-all: deps build
	@bash scripts/run-tests.sh "$(CONFIG)" ""

# The seeding tests again over the TCP engine that is not the default (--tcp-engine), so both stay tested; when
# SeedingOptions.DefaultTcpEngine flips, flip this too.
OTHER_TCP_ENGINE ?= sockets
test-tcp-engine: deps build
	@APPLIANCE_TEST_TCP_ENGINE=$(OTHER_TCP_ENGINE) bash scripts/run-tests.sh "$(CONFIG)" "FullyQualifiedName~Appliance.Seeding.Tests"

# One Native AOT binary at dist/appliance; any trim/AOT warning fails the build (warnings are errors).
publish:
	$(DOTNET) publish src/Appliance/Appliance.csproj -c Release -r $(RID) -o $(DIST) -p:TreatWarningsAsErrors=true -p:CopyOutputSymbolsToPublishDirectory=false 2>&1 | tee $(DIST).publish.log
	@! grep -E "warning (IL|CS|NU)[0-9]+" $(DIST).publish.log || (echo "publish: warnings above are not allowed" && exit 1)
	@rm -f $(DIST).publish.log $(DIST)/*.dbg $(DIST)/*.pdb
	@ls -l $(DIST)/appliance

# Runs the published binary end to end: create, info, serve, a download check, graceful SIGTERM.
smoke: publish
	bash scripts/aot-smoke.sh $(DIST)/appliance

# Seeds a generated demo folder with the embedded tracker and a DHT node that waits to be contacted
# (it never reaches a public address); prints one magnet link per torrent. Ctrl-C stops it.
run:
	$(DOTNET) build src/Appliance/Appliance.csproj -c $(CONFIG) -o .build/appliance >/dev/null
	bash scripts/make-sample.sh "$(DOTNET) .build/appliance/appliance.dll" $(SAMPLE)
	$(DOTNET) .build/appliance/appliance.dll serve --content $(SAMPLE)/content \
	  --listen 127.0.0.1:6881 --tracker-listen 127.0.0.1:6969 --announce-host 127.0.0.1 \
	  --dht-bootstrap none --metrics-listen 127.0.0.1:9469

# Full BenchmarkDotNet suite (minutes); results land in BenchmarkDotNet.Artifacts/.
bench:
	$(DOTNET) run -c Release --project bench/Appliance.Benchmarks -- --filter '*' --memory

# The allocation gate CI runs: every benchmark with a budget must allocate at most that many bytes per op.
bench-gate:
	bash scripts/bench-gate.sh

# Coverage-guided fuzzing (SharpFuzz + afl++) of every parser, FUZZ_SECONDS per target (default 60); see docs/fuzzing.md.
fuzz:
	@bash scripts/install-deps.sh fuzz
	bash scripts/fuzz.sh

# Side-by-side seeding comparison with libtorrent and iperf3 (see perf-reports/).
loadtest:
	bash bench/scripts/compare.sh

clean:
	$(DOTNET) clean Appliance.sln -c $(CONFIG) >/dev/null || true
	rm -rf $(DIST) .build $(SAMPLE) BenchmarkDotNet.Artifacts TestResults
	find src tests bench -type d \( -name bin -o -name obj \) -prune -exec rm -rf {} +
