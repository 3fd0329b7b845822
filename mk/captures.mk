# Regenerate the real-client captures of l7/testdata/captures (root; the
# servers and clients of scripts/install-capture-deps.sh installed), then
# rewrite their golden files: review the diff before committing. The capture
# makers are compiled only with the build tag "captures" (they are not part
# of "go test ./..."). CAPTURES selects captures by name, a regular
# expression matched against the whole name:
#   make captures                          # all of them
#   make captures CAPTURES='kafka|http10'  # two of them
CAPTURES ?= .*
.PHONY: captures
captures:
	$(GO) test -tags captures ./l7 -count=1 -run 'TestMakeCaptures(Core|Apps)/^($(CAPTURES))$$' -v
	$(GO) test ./l7 -count=1 -run 'TestCaptureGoldens/^($(CAPTURES))$$' -update -v
