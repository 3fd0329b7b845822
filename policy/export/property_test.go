package export

import (
	"fmt"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"bulkhead.dev/bulkhead/policy"
)

// Pools the random policies draw from: every peer kind, port form, app and
// condition kind the model has, with exact values, wildcards, names Cilium
// spells differently and values Cilium has no syntax for.
var (
	propPeers = []string{"client", "server", "named", "corp", "ext", "world", "host"}
	propPorts = []string{"tcp/80", "tcp/8000-8090", "udp/53", "tcp/53", "udp/53-54", "tcp/any", "udp/any", "any", "tcp/9092", "udp/443"}
	propKinds = map[string][]string{ // app -> condition kind ("" none)
		"any": {""}, "ssh": {""}, "http": {"", "http"}, "grpc": {"grpc"}, "dns": {"", "dns"},
		"tls": {"tls"}, "quic": {"tls"}, "kafka": {"kafka"}, "redis": {"redis"}, "mqtt": {"mqtt"},
	}
	propApps   = []string{"any", "ssh", "http", "grpc", "dns", "tls", "quic", "kafka", "redis", "mqtt"}
	propFields = map[string]map[string][]string{
		"http":  {"method": {"GET", "*", "P*"}, "path": {"/", "/users/{id}", "/static/**", "/a/*.css"}, "host": {"api.example.com", "*.example.com", "*"}},
		"grpc":  {"service": {"shop.Cart", "*"}, "method": {"Get*", "Put"}},
		"dns":   {"name": {"example.com", "*.example.com", "*"}},
		"tls":   {"sni": {"example.com", "*.example.com", "*"}},
		"kafka": {"topic": {"orders", "audit.*", "*", "a/b"}, "command": {"PRODUCE", "LIST_OFFSETS", "API_VERSIONS", "DESCRIBE_LOG_DIRS", "DESCRIBE_*", "*"}, "clientID": {"billing", "billing-*"}},
		"redis": {"command": {"GET", "SET"}},
		"mqtt":  {"topic": {"sensors/*"}, "command": {"PUBLISH"}},
	}
)

var propRule = rapid.Custom(func(t *rapid.T) string {
	var b strings.Builder
	fmt.Fprintf(&b, "    - from: %s\n      to: %s\n", rapid.SampledFrom(propPeers).Draw(t, "from"), rapid.SampledFrom(propPeers).Draw(t, "to"))
	if ports := rapid.SliceOfNDistinct(rapid.SampledFrom(propPorts), 0, 3, rapid.ID[string]).Draw(t, "ports"); len(ports) > 0 {
		fmt.Fprintf(&b, "      ports: [%s]\n", strings.Join(ports, ", "))
	}
	app := rapid.SampledFrom(propApps).Draw(t, "app")
	fmt.Fprintf(&b, "      app: %s\n", app)
	kind := rapid.SampledFrom(propKinds[app]).Draw(t, "kind")
	if kind == "" {
		return b.String()
	}
	fmt.Fprintf(&b, "      %s:\n", kind)
	fields := propFields[kind]
	for range rapid.IntRange(1, 3).Draw(t, "entries") {
		var kv []string
		for _, key := range []string{"method", "path", "host", "service", "name", "sni", "topic", "command", "clientID"} {
			if vals, ok := fields[key]; ok && rapid.Bool().Draw(t, "set "+key) {
				kv = append(kv, fmt.Sprintf("%s: %q", key, rapid.SampledFrom(vals).Draw(t, key)))
			}
		}
		if len(kv) == 0 {
			for key, vals := range fields {
				kv = append(kv, fmt.Sprintf("%s: %q", key, vals[0]))
				break
			}
		}
		fmt.Fprintf(&b, "        - {%s}\n", strings.Join(kv, ", "))
	}
	return b.String()
})

const propGroups = `apiVersion: bulkhead.dev/v1alpha1
kind: Policy
metadata: {name: prop}
spec:
  groups:
    - {name: client, selector: {matchLabels: {app: client}}}
    - {name: server, selector: {matchExpressions: [{key: app, operator: In, values: [server, api]}]}}
    - {name: named, selector: {matchLabels: {bulkhead.dev/workload: batch}}}
    - {name: corp, cidrs: [198.18.0.0/16, "2001:2::/48"], except: [198.18.99.0/24]}
    - {name: ext, fqdns: [a.example.com, "*.example.net"]}
  rules:
`

// TestExportsAlwaysValid: whatever the policy, every exported object passes
// the strict checks (Cilium's schema and agent-side validation; Kubernetes'
// types and the port and ipBlock rules of its API validation).
func TestExportsAlwaysValid(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		src := propGroups + strings.Join(rapid.SliceOfN(propRule, 1, 6).Draw(t, "rules"), "")
		pol, err := policy.Parse("prop.yaml", []byte(src))
		if err != nil {
			t.Fatalf("generated policy does not load: %v\n%s", err, src)
		}
		cil, err := CiliumYAML(pol, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range documents(cil) {
			if err := checkCilium([]byte(doc)); err != nil {
				t.Fatalf("Cilium would refuse: %v\n%s\nfrom:\n%s", err, doc, src)
			}
		}
		k8s, err := KubernetesYAML(pol, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range documents(k8s) {
			if err := checkKubernetesDoc(doc); err != nil {
				t.Fatalf("Kubernetes would refuse: %v\n%s\nfrom:\n%s", err, doc, src)
			}
		}
	})
}
