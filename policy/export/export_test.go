package export

import (
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"

	"bulkhead.dev/bulkhead/policy"
	"bulkhead.dev/bulkhead/policy/internal/golden"
)

func loadShop(t *testing.T) *policy.Policy {
	t.Helper()
	pol, err := policy.Load("testdata/shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return pol
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
	golden.Check(t, "shop.kubernetes.yaml", out)
	docs := documents(out)
	if len(docs) != 4 {
		t.Fatalf("%d NetworkPolicy objects, want one per workload group (4)", len(docs))
	}
	for _, doc := range docs {
		var np networkingv1.NetworkPolicy
		if err := yaml.UnmarshalStrict([]byte(doc), &np); err != nil {
			t.Fatalf("does not decode strictly as a NetworkPolicy: %v\n%s", err, doc)
		}
		if np.Kind != "NetworkPolicy" || np.APIVersion != "networking.k8s.io/v1" || np.Namespace != "shop" || len(np.Spec.PolicyTypes) != 2 {
			t.Errorf("bad object header: %+v", np.TypeMeta)
		}
	}
	// Spot checks of the translation.
	var api networkingv1.NetworkPolicy
	if err := yaml.UnmarshalStrict([]byte(docs[1]), &api); err != nil {
		t.Fatal(err)
	}
	if api.Name != "bulkhead-api" || len(api.Spec.Ingress) != 1 || api.Spec.Ingress[0].Ports[0].Port.IntVal != 8080 {
		t.Errorf("api policy: %+v", api.Spec)
	}
	for _, want := range []string{"NOT EXPRESSIBLE in NetworkPolicy: http conditions", "NOT EXPRESSIBLE in NetworkPolicy: FQDN group github", "NOT EXPRESSIBLE in NetworkPolicy: the host group"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks comment %q", want)
		}
	}
}

func TestCilium(t *testing.T) {
	out, err := CiliumYAML(loadShop(t), Options{Namespace: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "shop.cilium.yaml", out)
	docs := documents(out)
	if len(docs) != 4 {
		t.Fatalf("%d objects, want 4", len(docs))
	}
	for _, doc := range docs {
		if err := checkCilium([]byte(doc)); err != nil {
			t.Errorf("does not pass the CiliumNetworkPolicy schema: %v\n%s", err, doc)
		}
	}
	for _, want := range []string{"toFQDNs", "matchPattern: '*.github.com'", "k8s:k8s-app: kube-dns", "path: '/users/[^/]+'", "serverNames: ['*.example.com']", "apiKey: produce", "NOT EXPRESSIBLE in CiliumNetworkPolicy: redis conditions"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q", want)
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
