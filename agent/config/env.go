package config

import (
	"os"
	"runtime"
)

// SystemEnv reads the environment the defaults depend on: NODE_NAME, the
// host name, the number of CPUs and BULKHEAD_CONFIG.
func SystemEnv() Env {
	host, _ := os.Hostname()
	return Env{NodeName: os.Getenv("NODE_NAME"), Hostname: host, CPUs: runtime.NumCPU(),
		ConfigFile: os.Getenv("BULKHEAD_CONFIG")}
}
