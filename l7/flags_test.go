package l7

import "flag"

// The test flags of the whole l7 test binary, defined once here (a second
// definition would panic when the binary starts):
//
//	go test ./l7 -update        rewrite golden files
//
// The capture makers are not behind a flag but behind the build tag
// "captures" (captures_make_test.go).
var updateGolden = flag.Bool("update", false, "rewrite golden files under testdata/")
