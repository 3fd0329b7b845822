package export

import (
	"fmt"
	"strings"
	"testing"
)

// ciliumObject wraps an ingress or egress list into a CiliumNetworkPolicy
// that is valid apart from it.
func ciliumObject(rules string) string {
	return `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: t, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: a}}
` + rules
}

// TestCheckCiliumAccepts: objects Cilium accepts pass the checker, so that
// the negative cases below fail for the reason they name.
func TestCheckCiliumAccepts(t *testing.T) {
	for name, rules := range map[string]string{
		"dns on egress": `  egress:
    - toEndpoints: [{matchLabels: {app: dns}}]
      toPorts:
        - ports: [{port: "53", protocol: UDP}, {port: "53", protocol: TCP}]
          rules: {dns: [{matchPattern: "**.example.com"}, {matchName: example.com}]}`,
		"http on a tcp range": `  ingress:
    - fromEndpoints: [{matchLabels: {app: b}}]
      toPorts:
        - ports: [{port: "8000", endPort: 8090, protocol: TCP}]
          rules: {http: [{method: GET, path: "/users/[^/]+", host: '(?i)api\.example\.com\.?(:[0-9]*)?'}]}`,
		"kafka with cilium keys": `  ingress:
    - fromEntities: [cluster]
      toPorts:
        - ports: [{port: "9092", protocol: TCP}]
          rules: {kafka: [{apiKey: offsets, topic: orders}, {apiKey: apiversions}, {role: consume, topic: a.b_c-d}]}`,
		"server names": `  egress:
    - toFQDNs: [{matchPattern: "**.example.com"}]
      toPorts:
        - ports: [{port: "443", protocol: TCP}]
          serverNames: ["**.example.com", api.example.com]`,
		"l4 every port": `  egress:
    - toEntities: [world]
      toPorts:
        - ports: [{port: "0", protocol: TCP}]`,
		"default deny": `  ingress: [{}]`,
	} {
		t.Run(name, func(t *testing.T) {
			if err := checkCilium([]byte(ciliumObject(rules))); err != nil {
				t.Errorf("rejected: %v", err)
			}
		})
	}
}

// TestCheckCiliumRejects: the checker refuses what Cilium refuses, each
// with Cilium's reason.
func TestCheckCiliumRejects(t *testing.T) {
	manyPorts := make([]string, 41)
	for i := range manyPorts {
		manyPorts[i] = fmt.Sprintf(`{port: "%d", protocol: TCP}`, 1000+i)
	}
	tests := []struct {
		name, rules, want string
	}{
		{"dns on ingress", `  ingress:
    - fromEndpoints: [{matchLabels: {app: b}}]
      toPorts:
        - ports: [{port: "53", protocol: UDP}]
          rules: {dns: [{matchName: example.com}]}`, "DNS rules are not allowed on ingress"},
		{"l7 on port 0", `  egress:
    - toEndpoints: [{matchLabels: {app: b}}]
      toPorts:
        - ports: [{port: "0", protocol: TCP}]
          rules: {http: [{method: GET}]}`, "L7 rules can not be used when a port is 0"},
		{"dns on a port range", `  egress:
    - toEndpoints: [{matchLabels: {app: b}}]
      toPorts:
        - ports: [{port: "53", endPort: 54, protocol: UDP}]
          rules: {dns: [{matchName: example.com}]}`, "DNS rules do not support port ranges"},
		{"http on udp", `  egress:
    - toEndpoints: [{matchLabels: {app: b}}]
      toPorts:
        - ports: [{port: "8080", protocol: UDP}]
          rules: {http: [{method: GET}]}`, "L7 rules can only apply to TCP"},
		{"kafka on any protocol", `  egress:
    - toEndpoints: [{matchLabels: {app: b}}]
      toPorts:
        - ports: [{port: "9092", protocol: ANY}]
          rules: {kafka: [{topic: orders}]}`, "L7 rules can only apply to TCP"},
		{"kafka engine name list_offsets", `  egress:
    - toEndpoints: [{matchLabels: {app: b}}]
      toPorts:
        - ports: [{port: "9092", protocol: TCP}]
          rules: {kafka: [{apiKey: list_offsets}]}`, `invalid APIKey "list_offsets"`},
		{"kafka engine name api_versions", `  ingress:
    - fromEndpoints: [{matchLabels: {app: b}}]
      toPorts:
        - ports: [{port: "9092", protocol: TCP}]
          rules: {kafka: [{apiKey: api_versions}]}`, `invalid APIKey "api_versions"`},
		{"kafka engine name delete_topics", `  ingress:
    - fromEndpoints: [{matchLabels: {app: b}}]
      toPorts:
        - ports: [{port: "9092", protocol: TCP}]
          rules: {kafka: [{apiKey: delete_topics}]}`, `invalid APIKey "delete_topics"`},
		{"kafka role and apiKey", `  ingress:
    - fromEndpoints: [{matchLabels: {app: b}}]
      toPorts:
        - ports: [{port: "9092", protocol: TCP}]
          rules: {kafka: [{role: produce, apiKey: produce}]}`, "cannot set both Role"},
		{"kafka topic glob", `  ingress:
    - fromEndpoints: [{matchLabels: {app: b}}]
      toPorts:
        - ports: [{port: "9092", protocol: TCP}]
          rules: {kafka: [{topic: "audit.*"}]}`, "invalid Topic name"},
		{"server names with l7 rules", `  egress:
    - toEntities: [world]
      toPorts:
        - ports: [{port: "443", protocol: TCP}]
          serverNames: [example.com]
          rules: {http: [{method: GET}]}`, "ServerNames are not allowed with L7 rules"},
		{"two kinds of l7 rules", `  egress:
    - toEndpoints: [{matchLabels: {app: b}}]
      toPorts:
        - ports: [{port: "8080", protocol: TCP}]
          rules: {http: [{method: GET}], kafka: [{topic: orders}]}`, "multiple L7 protocol rule types"},
		{"dns rules without ports", `  egress:
    - toEndpoints: [{matchLabels: {app: b}}]
      toPorts:
        - rules: {dns: [{matchName: example.com}]}`, "Port 53 must be specified for DNS rules"},
		{"41 ports", `  egress:
    - toEndpoints: [{matchLabels: {app: b}}]
      toPorts:
        - ports: [` + strings.Join(manyPorts, ", ") + `]`, "too many ports, the max is 40"},
		{"two kinds of peers", `  ingress:
    - fromEndpoints: [{matchLabels: {app: b}}]
      fromEntities: [host]`, "Combining FromEndpoints and FromEntities"},
		{"fqdns and endpoints", `  egress:
    - toEndpoints: [{matchLabels: {app: b}}]
      toFQDNs: [{matchName: example.com}]`, "Combining ToEndpoints and ToFQDNs"},
		{"except outside the cidr", `  egress:
    - toCIDRSet: [{cidr: 198.18.0.0/16, except: [198.19.0.0/24]}]`, "does not contain exclude CIDR prefix"},
		{"unknown entity", `  egress:
    - toEntities: [internet]`, `unknown entity "internet"`},
		{"bad matchName", `  egress:
    - toFQDNs: [{matchName: "*.example.com"}]`, "bad matchName"},
		{"bad server name", `  egress:
    - toEntities: [world]
      toPorts:
        - ports: [{port: "443", protocol: TCP}]
          serverNames: ["api.*.example.com"]`, "bad serverName"},
		{"bad http regex", `  egress:
    - toEntities: [world]
      toPorts:
        - ports: [{port: "80", protocol: TCP}]
          rules: {http: [{path: "/a("}]}`, "bad http regex"},
		{"unknown field", `  egress:
    - toEntities: [world]
      toPort: []`, "unknown field"},
		{"no selector", `  nodeSelector: {matchLabels: {a: b}}
  ingress: [{}]`, "exactly one of endpointSelector, nodeSelector"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkCilium([]byte(ciliumObject(tt.rules)))
			if err == nil {
				t.Fatalf("accepted:\n%s", ciliumObject(tt.rules))
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}
