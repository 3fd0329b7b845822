package export

import (
	"fmt"
	"regexp"
	"strings"
)

// Options tune the export.
type Options struct {
	// Namespace of the exported objects; selectors match pods of this
	// namespace. ["default"]
	Namespace string
	// Prefix of object names: PREFIX + group name. ["bulkhead-"]
	Prefix string
}

// OptionError reports an option that would make invalid Kubernetes
// objects.
type OptionError struct {
	Field  string // "namespace" or "prefix"
	Value  string
	Reason string
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("export: %s %q: %s", e.Field, e.Value, e.Reason)
}

var (
	dns1123Label     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

// Check reports an *OptionError when the namespace is not a DNS-1123 label
// or the prefix cannot start a DNS-1123 subdomain (an object name). Empty
// fields take their defaults and are valid.
func (o Options) Check() error {
	o = o.withDefaults()
	if len(o.Namespace) > 63 || !dns1123Label.MatchString(o.Namespace) {
		return &OptionError{"namespace", o.Namespace, "not a Kubernetes namespace name (DNS-1123 label: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit)"}
	}
	if len(o.Prefix) > 200 || !dns1123Subdomain.MatchString(o.Prefix+"a") {
		return &OptionError{"prefix", o.Prefix, "object names PREFIX+GROUP would not be Kubernetes object names (DNS-1123 subdomain: lower-case letters, digits, '-' and '.', starting with a letter or digit; prefix at most 200)"}
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.Prefix == "" {
		o.Prefix = "bulkhead-"
	}
	return o
}

// objectName returns a valid Kubernetes object name (DNS-1123 subdomain)
// for a group, given a prefix that passed Options.Check: '_' becomes '-',
// and '.' too when the name would otherwise have an empty or ill-formed
// label ("a..b", "a.-b").
func objectName(prefix, group string) string {
	n := strings.NewReplacer("_", "-").Replace(prefix + group)
	if !dns1123Subdomain.MatchString(n) {
		n = strings.ReplaceAll(n, ".", "-")
	}
	if len(n) > 253 {
		n = strings.TrimRight(n[:253], "-.")
	}
	return n
}
