package l7

import "flag"

// The test flags of the whole l7 test binary, defined once here (a second
// definition would panic when the binary starts):
//
//	go test ./l7 -update                                   rewrite golden files
//	go test ./l7 -run TestMakeCaptures -make-captures      rerun the capture makers (root)
var (
	updateGolden = flag.Bool("update", false, "rewrite golden files under testdata/")
	makeCaptures = flag.Bool("make-captures", false, "run the TestMakeCaptures* tests, which rewrite testdata/captures/*.pcap (root, testenv)")
)
