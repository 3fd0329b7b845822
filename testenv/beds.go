package testenv

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Named test beds (Config.Name) outlive the process that built them: their
// namespaces stay bind-mounted as bh-<name>-<host> until removed. These
// helpers find them again, for "bulkhead testenv list|down|exec" and the
// demo.

// NamespacePath returns the path of the named network namespace ns.
func NamespacePath(ns string) string { return filepath.Join(netnsDir, ns) }

// HostNamespace returns the namespace of host in the named test bed.
func HostNamespace(bed, host string) string { return namedPrefix(bed) + "-" + host }

// BedNamespaces returns the namespaces of the named test bed, sorted.
func BedNamespaces(name string) []string { return bedNamespacesIn(netnsDir, name) }

// Bed is a named test bed and its hosts.
type Bed struct {
	Name  string
	Hosts []string
}

// Beds returns the named test beds present, sorted by name. A bed name may
// hold '-', as host names may: a namespace bh-a-b-c is listed as bed "a",
// host "b-c" (the shortest bed name).
func Beds() []Bed { return bedsIn(netnsDir) }

func bedNamespacesIn(dir, name string) []string {
	var out []string
	for _, ns := range namespacesIn(dir) {
		if rest, ok := strings.CutPrefix(ns, HostNamespace(name, "")); ok && rest != "" {
			out = append(out, ns)
		}
	}
	return out
}

func bedsIn(dir string) []Bed {
	var beds []Bed
	index := map[string]int{}
	for _, ns := range namespacesIn(dir) {
		rest, ok := strings.CutPrefix(ns, namedPrefix(""))
		if !ok {
			continue
		}
		bed, host, ok := strings.Cut(rest, "-")
		if !ok || bed == "" || host == "" {
			continue
		}
		i, seen := index[bed]
		if !seen {
			i = len(beds)
			index[bed] = i
			beds = append(beds, Bed{Name: bed})
		}
		beds[i].Hosts = append(beds[i].Hosts, host)
	}
	return beds
}

// namespacesIn lists the namespace names in dir, sorted (none when dir
// does not exist).
func namespacesIn(dir string) []string {
	entries, _ := os.ReadDir(dir)
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}
