package l7

// Identifiers of the internal tests that the external ones (package l7_test)
// use.

// UpdateGolden reports the -update flag (l7/flags_test.go).
func UpdateGolden() bool { return *updateGolden }
