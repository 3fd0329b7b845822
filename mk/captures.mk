# Regenerate the real-client captures of l7/testdata/captures (root; the
# servers and clients of scripts/install-capture-deps.sh installed), then
# rewrite their golden files: review the diff before committing.
.PHONY: captures
captures:
	$(GO) test ./l7 -count=1 -run 'TestMakeCaptures' -make-captures -v
	$(GO) test ./l7 -count=1 -run 'TestCaptureGoldens' -update
