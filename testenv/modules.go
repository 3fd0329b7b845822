package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// bridgeSysctlDir exists once br_netfilter is built in or loaded.
var bridgeSysctlDir = "/proc/sys/net/bridge"

// loadBrNetfilter makes sure the br_netfilter module is present, loading it
// with modprobe (package kmod) when the kernel has it as a module.
func loadBrNetfilter() error {
	if _, err := os.Stat(bridgeSysctlDir); err == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "modprobe", "br_netfilter").CombinedOutput()
	if err != nil {
		return fmt.Errorf("testenv: the bridged topology needs br_netfilter: modprobe br_netfilter: %v: %s", err, strings.TrimSpace(string(out)))
	}
	if _, err := os.Stat(bridgeSysctlDir); err != nil {
		return fmt.Errorf("testenv: modprobe br_netfilter succeeded but %s is missing: %w", bridgeSysctlDir, err)
	}
	return nil
}
