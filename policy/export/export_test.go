package export

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"

	"bulkhead.dev/bulkhead/internal/golden"
	"bulkhead.dev/bulkhead/policy"
)

func loadShop(t *testing.T) *policy.Policy { return loadPolicy(t, "testdata/shop.yaml") }

func loadPolicy(t *testing.T, path string) *policy.Policy {
	t.Helper()
	pol, err := policy.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return pol
}

// checkKubernetesDocs decodes every object strictly with k8s.io/api and
// checks it as checkKubernetesDoc does.
func checkKubernetesDocs(t *testing.T, out []byte) []networkingv1.NetworkPolicy {
	t.Helper()
	var nps []networkingv1.NetworkPolicy
	for _, doc := range documents(out) {
		if err := checkKubernetesDoc(doc); err != nil {
			t.Fatalf("not a valid NetworkPolicy: %v\n%s", err, doc)
		}
		var np networkingv1.NetworkPolicy
		if err := yaml.UnmarshalStrict([]byte(doc), &np); err != nil {
			t.Fatal(err)
		}
		nps = append(nps, np)
	}
	return nps
}

// checkKubernetesDoc decodes one object strictly with k8s.io/api and checks
// what the API server's validation checks of ports and ipBlocks
// (ValidateNetworkPolicyPort, ValidateIPBlock): port numbers, endPort only
// with a numeric port and not below it, CIDRs that parse, excepts inside
// their CIDR.
func checkKubernetesDoc(doc string) error {
	var np networkingv1.NetworkPolicy
	if err := yaml.UnmarshalStrict([]byte(doc), &np); err != nil {
		return fmt.Errorf("does not decode strictly: %w", err)
	}
	var errs []error
	ports := func(ps []networkingv1.NetworkPolicyPort) {
		for _, p := range ps {
			switch {
			case p.Port == nil && p.EndPort != nil:
				errs = append(errs, fmt.Errorf("endPort %d without port", *p.EndPort))
			case p.Port != nil && (p.Port.IntVal < 1 || p.Port.IntVal > 65535):
				errs = append(errs, fmt.Errorf("port %v out of range", p.Port))
			case p.Port != nil && p.EndPort != nil && *p.EndPort < p.Port.IntVal:
				errs = append(errs, fmt.Errorf("endPort %d below port %v", *p.EndPort, p.Port))
			}
		}
	}
	peers := func(ps []networkingv1.NetworkPolicyPeer) {
		for _, p := range ps {
			if p.IPBlock == nil {
				continue
			}
			cidr, err := netip.ParsePrefix(p.IPBlock.CIDR)
			if err != nil {
				errs = append(errs, fmt.Errorf("ipBlock: %w", err))
				continue
			}
			for _, x := range p.IPBlock.Except {
				ex, err := netip.ParsePrefix(x)
				if err != nil || !cidr.Contains(ex.Addr()) || ex.Bits() <= cidr.Bits() {
					errs = append(errs, fmt.Errorf("ipBlock: except %s not strictly inside %s", x, cidr))
				}
			}
		}
	}
	for _, r := range np.Spec.Ingress {
		ports(r.Ports)
		peers(r.From)
	}
	for _, r := range np.Spec.Egress {
		ports(r.Ports)
		peers(r.To)
	}
	return errors.Join(errs...)
}

// checkCiliumDocs passes every object through the strict Cilium check.
func checkCiliumDocs(t *testing.T, out []byte) int {
	t.Helper()
	docs := documents(out)
	for _, doc := range docs {
		if err := checkCilium([]byte(doc)); err != nil {
			t.Errorf("does not pass the CiliumNetworkPolicy checks: %v\n%s", err, doc)
		}
	}
	return len(docs)
}

// wantLines checks that out contains each of want.
func wantLines(t *testing.T, out []byte, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(string(out), w) {
			t.Errorf("output lacks %q", w)
		}
	}
}

// documents splits a YAML stream on "---" lines.
func documents(data []byte) []string {
	var docs []string
	for _, d := range strings.Split(string(data), "\n---\n") {
		if strings.TrimSpace(d) != "" {
			docs = append(docs, d)
		}
	}
	return docs
}

func TestKubernetes(t *testing.T) {
	out, err := KubernetesYAML(loadShop(t), Options{Namespace: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/shop.kubernetes.yaml", out)
	nps := checkKubernetesDocs(t, out)
	if len(nps) != 4 {
		t.Fatalf("%d NetworkPolicy objects, want one per workload group (4)", len(nps))
	}
	for _, np := range nps {
		if np.Kind != "NetworkPolicy" || np.APIVersion != "networking.k8s.io/v1" || np.Namespace != "shop" || len(np.Spec.PolicyTypes) != 2 {
			t.Errorf("bad object header: %+v", np.TypeMeta)
		}
	}
	// Spot checks of the translation.
	if api := nps[1]; api.Name != "bulkhead-api" || len(api.Spec.Ingress) != 1 || api.Spec.Ingress[0].Ports[0].Port.IntVal != 8080 {
		t.Errorf("api policy: %+v", api.Spec)
	}
	wantLines(t, out, "NOT EXPRESSIBLE in NetworkPolicy: http conditions", "NOT EXPRESSIBLE in NetworkPolicy: FQDN group github", "NOT EXPRESSIBLE in NetworkPolicy: the host group")
}

func TestCilium(t *testing.T) {
	out, err := CiliumYAML(loadShop(t), Options{Namespace: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/shop.cilium.yaml", out)
	if n := checkCiliumDocs(t, out); n != 4 {
		t.Fatalf("%d objects, want 4", n)
	}
	wantLines(t, out, []string{"toFQDNs", "matchPattern: '**.github.com'", "k8s:k8s-app: kube-dns", "path: '/users/[^/]+'", "serverNames: ['**.example.com']", "NOT EXPRESSIBLE in CiliumNetworkPolicy: redis conditions",
		"dns conditions {name=*.github.com} {name=github.com} (on ingress: Cilium allows DNS rules on egress only); exported at L4 only",
		"(entry {topic=audit.*} would allow every Kafka request in Cilium); exported at L4 only"}...)
}

// TestExportEdge exports rules that Cilium cannot take as written: every
// object must pass the checks (Cilium's and Kubernetes'), and every
// difference must be a comment saying which way it goes.
func TestExportEdge(t *testing.T) {
	pol := loadPolicy(t, "testdata/edge.yaml")
	cil, err := CiliumYAML(pol, Options{})
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/edge.cilium.yaml", cil)
	checkCiliumDocs(t, cil)
	wantLines(t, cil,
		// L7 on every port: L4 with the reason.
		"http conditions {method=GET path=/healthz} (on tcp/any: Cilium refuses L7 rules on port 0 (every port)); exported at L4 only (wider",
		// Hosts are regular expressions: exact and wildcard names map exactly.
		`host: '(?i)api\.example\.com\.?(:[0-9]*)?'`, `host: '(?i)([-a-z0-9_]+\.)+cdn\.example\.com\.?(:[0-9]*)?'`,
		// DNS on a range: L4.
		"dns conditions {name=*.example.com} (on udp/53-54: Cilium's DNS rules take single ports, not ranges); exported at L4 only (wider",
		// TLS server names on UDP: L4.
		"tls conditions {sni=*.example.com} (on udp/443: Cilium applies L7 rules other than DNS, and TLS server names, to TCP only)",
		// Kafka: Cilium's own key names, the others left out with a note.
		"{topic: orders, apiKey: offsets}", "{apiKey: apiversions}", "{apiKey: deletetopics, clientID: admin}", "{topic: orders}",
		"kafka command DESCRIBE_LOG_DIRS: Cilium has no apiKey for this API; left out of this entry (wider)",
		"kafka command DESCRIBE_*: Cilium matches exact values only; left out of this entry (wider)",
		"kafka clientID billing-*: Cilium matches exact values only; left out of this entry (wider)",
		"{apiKey: fetch}",
		// An entry left empty: the whole rule at L4, never a silent "{}".
		"(entry {command=ELECT_LEADERS} would allow every Kafka request in Cilium); exported at L4 only (wider",
		// More than 40 ports: split, same rules in each entry.
		"43 ports: split over 2 toPorts entries (Cilium takes at most 40 per entry)",
		// Selectors on the workload label select no pod in a cluster.
		"WARNING: the selector uses bulkhead.dev/workload",
		"As exported, this object selects no pod: the group's pods are not restricted by it (wider).",
		"peer group batch: WARNING: the selector uses bulkhead.dev/workload",
		"As exported, the requirement on it holds for every pod: this object also restricts pods the group does not select (narrower for them).",
	)
	// Engine names never reach Cilium. ("{}" entries appear only where the
	// Bulkhead entry allows every request: {method: "*"}, {topic: "*"}.)
	for _, never := range []string{"list_offsets", "api_versions", "delete_topics"} {
		if strings.Contains(string(cil), never) {
			t.Errorf("Cilium export contains %q", never)
		}
	}
	k8s, err := KubernetesYAML(pol, Options{})
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/edge.kubernetes.yaml", k8s)
	checkKubernetesDocs(t, k8s)
	wantLines(t, k8s, "As exported, this object selects no pod", "peer group batch: WARNING", "As exported, this rule matches no pod (narrower).")
}

// TestCiliumKafkaKeys: every engine API name that has a Cilium key maps to
// one of Cilium's keys (the checker's list, written from Cilium's
// APIKeyMap), and the names Cilium spells differently map to its spelling.
func TestCiliumKafkaKeys(t *testing.T) {
	if len(ciliumKafkaKeys) != len(kafkaAPIKeys) {
		t.Errorf("%d engine names mapped, Cilium has %d keys", len(ciliumKafkaKeys), len(kafkaAPIKeys))
	}
	for name, key := range ciliumKafkaKeys {
		if !in(kafkaAPIKeys, key) {
			t.Errorf("%s maps to %q, which Cilium does not know", name, key)
		}
	}
	for name, want := range map[string]string{"LIST_OFFSETS": "offsets", "API_VERSIONS": "apiversions", "DELETE_TOPICS": "deletetopics", "PRODUCE": "produce"} {
		if got := ciliumKafkaKeys[name]; got != want {
			t.Errorf("%s → %q, want %q", name, got, want)
		}
	}
}

func TestEmptyPolicy(t *testing.T) {
	for _, f := range []Format{Kubernetes, Cilium} {
		out, err := Write(f, &policy.Policy{}, Options{})
		if err != nil || !strings.HasPrefix(string(out), "# no workload group") {
			t.Errorf("%s: %q, %v", f, out, err)
		}
	}
	if _, err := Write("calico", &policy.Policy{}, Options{}); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestPathRegex(t *testing.T) {
	for in, want := range map[string]string{
		"/users/{id}":      "/users/[^/]+",
		"/api/**":          "/api(/.*)?",
		"/static/*.css":    `/static/[^/]*\.css`,
		"/a.b":             `/a\.b`,
		"/**":              "(/.*)?",
		"/v*/items/{x}/**": "/v[^/]*/items/[^/]+(/.*)?",
	} {
		if got := pathRegex(in); got != want {
			t.Errorf("pathRegex(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOptionsCheck(t *testing.T) {
	tests := []struct {
		opt   Options
		field string // "" valid
	}{
		{Options{}, ""},
		{Options{Namespace: "shop", Prefix: "bh."}, ""},
		{Options{Namespace: "kube-system", Prefix: "a"}, ""},
		{Options{Namespace: "Bad NS!"}, "namespace"},
		{Options{Namespace: "shop."}, "namespace"},
		{Options{Namespace: strings.Repeat("a", 64)}, "namespace"},
		{Options{Prefix: "X_"}, "prefix"},
		{Options{Prefix: "-bh-"}, "prefix"},
		{Options{Prefix: "bh..x-"}, "prefix"},
		{Options{Prefix: strings.Repeat("a", 201)}, "prefix"},
	}
	for _, tt := range tests {
		err := tt.opt.Check()
		var oe *OptionError
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("%+v: %v", tt.opt, err)
		case tt.field != "" && (!errors.As(err, &oe) || oe.Field != tt.field):
			t.Errorf("%+v: got %v, want an error on %s", tt.opt, err, tt.field)
		}
	}
	for _, f := range []Format{Kubernetes, Cilium} {
		_, err := Write(f, loadShop(t), Options{Namespace: "Bad NS!"})
		var oe *OptionError
		if !errors.As(err, &oe) || !strings.Contains(err.Error(), `"Bad NS!"`) {
			t.Errorf("%s export with a bad namespace: %v", f, err)
		}
	}
}

func TestObjectName(t *testing.T) {
	for _, tt := range []struct{ prefix, group, want string }{
		{"bulkhead-", "api", "bulkhead-api"},
		{"bulkhead-", "my_api", "bulkhead-my-api"},
		{"bh.", "api.v2", "bh.api.v2"},
		{"bulkhead-", "a..b", "bulkhead-a--b"},
		{"bulkhead.", "x", "bulkhead.x"},
		{"bulkhead-", strings.Repeat("a", 260), "bulkhead-" + strings.Repeat("a", 244)},
	} {
		got := objectName(tt.prefix, tt.group)
		if got != tt.want || !dns1123Subdomain.MatchString(got) || len(got) > 253 {
			t.Errorf("objectName(%q, %q) = %q, want %q (a DNS-1123 subdomain)", tt.prefix, tt.group, got, tt.want)
		}
	}
}
