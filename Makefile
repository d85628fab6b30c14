# raftlab: `make run` serves the lab on http://localhost:8080, `make test` runs every test.
GO ?= go
GOROOT := $(shell $(GO) env GOROOT)
# go_js_wasm_exec (the Node runner for GOOS=js tests) lives here.
WASMEXEC := $(GOROOT)/lib/wasm

.PHONY: test test-race scenarios test-native test-wasm test-mutants mutants vet typecheck bench bench-native bench-compare bench-page build run

# build first: the browser tests drive the page embedded in the server.
test: vet typecheck build test-native test-race test-wasm scenarios test-mutants

# The mutation harness (raft/mutants): every safety mutant of the core, built in with go test
# -overlay, must die in the simulator's seed sweeps from their first seed.
test-mutants:
	$(GO) test -count=1 -timeout 12m -v -run '^TestMutants$$' ./raft/mutants -mutants=fast

# Every mutant, liveness ones included, with the seeds each needs measured from seven starts.
mutants:
	$(GO) test -count=1 -timeout 30m -v -run '^TestMutants$$' ./raft/mutants -mutants=all

# The shipped guided scenarios, checked as a course author checks their own.
scenarios:
	$(GO) run ./server scenario check -q raft/scenario/scenarios/*.json

# The page's TypeScript, checked by tsc (esbuild bundles without checking types). Needs Node.js
# and npm. web/package-lock.json pins the compiler; `npm ci` installs it into web/node_modules
# the first time (from the npm registry, or offline from npm's cache), and later runs use that
# copy without the network.
TSC := web/node_modules/.bin/tsc
typecheck: $(TSC)
	$(TSC) --noEmit -p web

$(TSC): web/package.json web/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "make typecheck: npm not found; install Node.js (with npm) to type-check the page's TypeScript"; exit 1; }
	@echo "typecheck: installing the pinned TypeScript compiler into web/node_modules (npm ci; needs the npm registry or npm's cache, once)"
	@cd web && { npm ci --offline --no-audit --no-fund --loglevel=silent 2>/dev/null || \
	  npm ci --no-audit --no-fund --loglevel=error --fetch-retries=1 --fetch-retry-mintimeout=1000 --fetch-retry-maxtimeout=5000; } || { \
	  echo "make typecheck: could not install TypeScript from web/package-lock.json: npm ci failed above."; \
	  echo "  It needs the npm registry (or a mirror set with npm config set registry URL) once; after that web/node_modules and npm's cache hold it."; \
	  exit 1; }
	@touch $@

vet:
	@unformatted="$$(gofmt -l .)"; test -z "$$unformatted" || { echo "$$unformatted"; echo "gofmt: the files above need formatting (gofmt -w FILE)"; exit 1; }
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet ./...

test-native:
	$(GO) test -count=1 -timeout 12m ./...

# The server's concurrent parts under the race detector: the hub and its API, native nodes, the
# link (which the hub's tests drive), members, storage and the wire codec.
test-race:
	$(GO) test -race -count=1 -timeout 10m ./server/internal/... ./server/native/ ./raft/wire/

# The core and simulator also run compiled to wasm under Node.
test-wasm:
	PATH="$(WASMEXEC):$$PATH" GOOS=js GOARCH=wasm $(GO) test -count=1 -timeout 12m ./raft/... ./wasm/...

# A 3-member native cluster in one process over the real transport on loopback (server bench):
# commits/s with 64 submitters, then p50/p99 of one submitter; in memory, then with bbolt.
bench-native:
	@echo "--- server bench: 3 native members on loopback, 64 submitters then one; memory, then bbolt"
	$(GO) run ./server bench -members 3 -store memory -clients 64 -ops 20000
	$(GO) run ./server bench -members 3 -store bbolt -clients 64 -ops 20000

# server bench side by side with hashicorp/raft v1.8.0 (3 nodes over its TCP transport, an
# FSM that only counts, in memory and with raft-boltdb), RUNS times each, alternating, with
# the load average before each pair. The harness is its own module (server/bench/hashicorp),
# so hashicorp/raft stays out of raftlab's; its first run downloads it from the module proxy.
RUNS ?= 3
bench-compare:
	@cd server/bench/hashicorp && $(GO) build -o $(CURDIR)/.bench-hashicorp .
	@$(GO) build -o $(CURDIR)/.bench-raftlab ./server
	@for store in memory bbolt; do for i in $$(seq $(RUNS)); do \
	  echo "--- $$store, run $$i, load average $$(cut -d' ' -f1-3 /proc/loadavg)"; \
	  r=$$(./.bench-raftlab bench -members 3 -store $$store -clients 64 -ops 20000) || exit 1; echo "raftlab   $$r"; \
	  h=$$(./.bench-hashicorp -store $$store -clients 64 -ops 20000) || exit 1; echo "hashicorp $$h"; \
	done; done; rm -f .bench-raftlab .bench-hashicorp

# Performance figures: Go benchmarks, then the simulator's speed on 600 simulated seconds.
bench: bench-native
	@echo "--- persisting one appended entry at log length 100 and 100,000 (2000 appends each)"
	$(GO) test -run '^$$' -bench PersistAppend -benchtime 2000x ./raft/
	$(GO) test -run '^$$' -bench . ./raft/sim/ ./raft/kv/...
	@echo "--- sim: 5 nodes, 600 simulated seconds, no faults, then all faults"
	$(GO) run ./server sim -nodes 5 -duration 600s -faults none -load 10
	$(GO) run ./server sim -nodes 5 -duration 600s -faults all -load 10
	@echo "--- the same with pre-vote, then with pre-vote and check quorum (compare elections and committed)"
	$(GO) run ./server sim -nodes 5 -duration 600s -faults all -load 10 -prevote
	$(GO) run ./server sim -nodes 5 -duration 600s -faults all -load 10 -prevote -checkquorum
	@echo "--- the simulator's speed with 100 commands per simulated second (the sim command, 600 simulated s)"
	$(GO) run ./server sim -nodes 5 -duration 600s -faults none -load 100
	@echo "--- the same with log compaction every 32 entries (compare speed; snapshots= and installs=)"
	$(GO) run ./server sim -nodes 5 -duration 600s -faults none -load 100 -compact 32
	$(GO) run ./server sim -nodes 5 -duration 600s -faults all -load 10 -compact 32
	@echo "--- the page's localStorage after 10k commands without compaction, then 10k, 100k, 1M with the page's default (characters, keys)"
	$(GO) test -run '^$$' -bench StoredCharacters -benchtime 1x ./wasm/
	@echo "--- sim with the key-value workload: 5 clients, no faults, then leader crashes"
	$(GO) run ./server sim -nodes 5 -duration 60s -faults none -workload kv -clients 5
	$(GO) run ./server sim -nodes 5 -duration 60s -faults crash -workload kv -clients 5
	@echo "--- the simulator compiled to wasm under Node: 5 nodes, 100 commands per simulated second"
	PATH="$(WASMEXEC):$$PATH" GOOS=js GOARCH=wasm $(GO) test -run '^$$' -bench SimSpeed -benchtime 3x ./raft/kv/kvsim/
	@echo "--- native members (joined through a hub, linked directly) on loopback; 64 submitters, then one at a time; memory, then bbolt"
	$(GO) test -run '^$$' -bench Commits -benchtime 20000x ./server/internal/member/
	$(GO) test -run '^$$' -bench Latency -benchtime 5000x ./server/internal/member/
	@echo "--- native compaction: bbolt file size and restart time after 10k, 100k, 1M commands (default threshold, then none)"
	$(GO) test -run '^$$' -bench CompactedFile -benchtime 1x ./server/internal/boltstore/
	@echo "--- native compaction: a follower 100,000 entries behind catching up over loopback, by snapshot, then by entries"
	$(GO) test -run '^$$' -bench CatchUp -benchtime 1x ./server/internal/member/
	@echo "--- mixed cluster, 5 members (2 in the server, 3 node processes), 12 clients, a follower restarted every 10 s for 60 s: no election"
	$(GO) test -count=1 -run TestQuietCluster -v ./server/ -args -quiet.duration=60s -quiet.restart=10s

# The page's figures (needs the built page and Chromium): compressed wasm size, time to
# interactive, frames per second with 9 nodes at 1x, and the speed reached at max with the
# client load on, 5 and 9 nodes (BenchmarkPageSpeed); then the lab's own work without the
# browser, natively and compiled to wasm under Node.
bench-page: build
	$(GO) test -run '^$$' -bench . -benchtime 1x ./web/
	$(GO) test -run '^$$' -bench 'Page' -benchtime 3x ./server/
	$(GO) test -run '^$$' -bench LabClientLoad -benchtime 300x ./wasm/
	PATH="$(WASMEXEC):$$PATH" GOOS=js GOARCH=wasm $(GO) test -run '^$$' -bench LabClientLoad -benchtime 300x ./wasm/

# The page: the wasm module, the bundled TypeScript and CSS, precompressed, into web/dist.
build:
	@echo "build: compiling build.go with esbuild's Go API (silent; the first time takes a few minutes)"
	$(GO) run build.go

# Build the page and serve it on http://localhost:8080 (make run ADDR=127.0.0.1:0 picks a free
# port; the server prints the address to open).
ADDR ?= localhost:8080
run: build
	@echo "run: compiling and starting the server"
	$(GO) run ./server -addr $(ADDR)
