# Targets of policy/graphview and `bulkhead graph` (pictures of the
# communication graph). Included by the top-level Makefile.
#
# docs-images redraws docs/images/graph.svg, the README picture, from the
# realistic learned graph of the package's tests
# (policy/graphview/testdata/realistic.input.json, kept equal to what
# learn.Graph.Observe records by TestRealisticInput) through the real
# command. Needs Graphviz (scripts/install-deps.sh installs it).
# check-mermaid parses the Mermaid golden files with the real Mermaid parser
# (npm packages mermaid and jsdom, installed into a scratch directory).
# bench-graph measures reading, building and drawing a realistic and a
# cluster-sized graph and records the medians in BENCHMARKS.md under
# "Graph pictures".

GRAPH_EXAMPLE := policy/graphview/testdata/realistic.input.json
MERMAID_CHECK_DIR ?= $(or $(TMPDIR),/tmp)/bulkhead-mermaid-check
BENCH_GRAPH_COUNT ?= 3
BENCH_GRAPH_CMD = $(GO) test ./policy/graphview -run '^$$' -bench 'Build|Write|ReadInput' -benchmem -count $(BENCH_GRAPH_COUNT)

.PHONY: docs-images check-mermaid bench-graph
bench: bench-graph

docs-images: deps build
	@mkdir -p docs/images
	./$(BIN) graph --file $(GRAPH_EXAMPLE) --format svg -o docs/images/graph.svg
	$(GO) test -count=1 -run 'TestDocsImage' ./policy/graphview/

check-mermaid:
	@mkdir -p $(MERMAID_CHECK_DIR)
	cp policy/graphview/testdata/mermaid-check/package.json policy/graphview/testdata/mermaid-check/check.mjs $(MERMAID_CHECK_DIR)/
	cd $(MERMAID_CHECK_DIR) && npm install --no-audit --no-fund --package-lock=false --loglevel=error
	node $(MERMAID_CHECK_DIR)/check.mjs policy/graphview/testdata/*.mermaid

bench-graph:
	$(BENCH_GRAPH_CMD) | $(GO) run ./policy/internal/benchreport \
		-section "Graph pictures" -file BENCHMARKS.md \
		-command "make bench-graph  # $(subst $$$$,$$,$(BENCH_GRAPH_CMD))" \
		-notes "bulkhead graph, off the packet path. realistic: the 4-workload shop of docs/graph.md (18 learned edges, 12 verdict counts). large: 500 workloads each calling 10 others over HTTP with 20 paths, 2,000 external addresses, 500 external names: 7,500 learned edges, 100,000 L7 values, 5,000 verdict counts (a 15 MB input document). ReadInput reads that document (with learn.ReadJSON); Build makes the view (L7 summaries dominate); Write renders the large view."
