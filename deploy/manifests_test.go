package deploy_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// object is one decoded manifest.
type object struct {
	file string
	kind string
	name string
	obj  any
}

// kustomization is the part of kustomize's Kustomization this repository
// uses; decoding is strict.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
	} `json:"images,omitempty"`
}

// podMonitor is the part of the prometheus-operator PodMonitor the example
// uses, from the CRD's schema (monitoring.coreos.com/v1).
type podMonitor struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		JobLabel            string               `json:"jobLabel"`
		Selector            metav1.LabelSelector `json:"selector"`
		PodMetricsEndpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"podMetricsEndpoints"`
	} `json:"spec"`
}

// newTyped returns an empty object of the Go type of kind.
func newTyped(apiVersion, kind string) (any, error) {
	switch apiVersion + "/" + kind {
	case "v1/Namespace":
		return &corev1.Namespace{}, nil
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}, nil
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "rbac.authorization.k8s.io/v1/ClusterRole":
		return &rbacv1.ClusterRole{}, nil
	case "rbac.authorization.k8s.io/v1/ClusterRoleBinding":
		return &rbacv1.ClusterRoleBinding{}, nil
	case "apps/v1/DaemonSet":
		return &appsv1.DaemonSet{}, nil
	case "monitoring.coreos.com/v1/PodMonitor":
		return &podMonitor{}, nil
	case "monitoring.coreos.com/v1/PrometheusRule":
		return &prometheusRule{}, nil
	}
	return nil, fmt.Errorf("no Go type for %s %s", apiVersion, kind)
}

// decodeManifests decodes every document of a YAML stream strictly into
// the upstream Go type of its kind: an unknown or misspelt field, a wrong
// type or a duplicate key is an error.
func decodeManifests(file string, data []byte) ([]object, error) {
	var out []object
	for i, doc := range bytes.Split(data, []byte("\n---\n")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return nil, fmt.Errorf("%s document %d: %w", file, i, err)
		}
		obj, err := newTyped(tm.APIVersion, tm.Kind)
		if err != nil {
			return nil, fmt.Errorf("%s document %d: %w", file, i, err)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			return nil, fmt.Errorf("%s document %d (%s): %w", file, i, tm.Kind, err)
		}
		var meta struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return nil, err
		}
		out = append(out, object{file: file, kind: tm.Kind, name: meta.Metadata.Name, obj: obj})
	}
	return out, nil
}

// loadKustomization decodes dir/kustomization.yaml and every resource it
// lists, and checks that it lists every manifest of dir.
func loadKustomization(t *testing.T, dir string) []object {
	t.Helper()
	var k kustomization
	decodeStrictFile(t, filepath.Join(dir, "kustomization.yaml"), &k)
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("%s/kustomization.yaml: %s %s", dir, k.APIVersion, k.Kind)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var manifests []string
	for _, f := range files {
		if filepath.Base(f) != "kustomization.yaml" {
			manifests = append(manifests, filepath.Base(f))
		}
	}
	if diff := cmp.Diff(slices.Sorted(slices.Values(manifests)), slices.Sorted(slices.Values(k.Resources))); diff != "" {
		t.Errorf("%s: manifests in the directory (-) and resources of the kustomization (+) differ:\n%s", dir, diff)
	}
	var out []object
	for _, r := range k.Resources {
		b, err := os.ReadFile(filepath.Join(dir, r))
		if err != nil {
			t.Fatal(err)
		}
		objs, err := decodeManifests(filepath.Join(dir, r), b)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, objs...)
	}
	return out
}

func find[T any](t *testing.T, objs []object, kind, name string) T {
	t.Helper()
	for _, o := range objs {
		if o.kind == kind && o.name == name {
			return o.obj.(T)
		}
	}
	t.Fatalf("no %s %s in the manifests", kind, name)
	var zero T
	return zero
}

func TestManifestsDecodeStrictly(t *testing.T) {
	for _, dir := range []string{"kubernetes", "kubernetes/monitoring"} {
		objs := loadKustomization(t, dir)
		if len(objs) == 0 {
			t.Errorf("%s: no manifest", dir)
		}
		for _, o := range objs {
			for _, msg := range validation.IsDNS1123Subdomain(o.name) {
				t.Errorf("%s: %s name %q: %s", o.file, o.kind, o.name, msg)
			}
		}
	}
}

func TestManifestDecoderRejectsMistakes(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown field":  "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: x}\nautomountToken: true\n",
		"wrong type":     "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: x}\nspec: {template: {spec: {hostNetwork: yes-please}}}\n",
		"duplicate key":  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\ndata: {c: d}\n",
		"unknown kind":   "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n",
		"misspelt probe": "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: x}\nspec: {template: {spec: {containers: [{name: a, livenesProbe: {}}]}}}\n",
	} {
		if _, err := decodeManifests(name, []byte(doc)); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

// TestDaemonSetSecurity asserts what docs/deploy.md promises: host network
// and PID, not privileged, exactly NET_ADMIN, SYS_ADMIN and NET_RAW on top
// of nothing, probes on the metrics port, resource limits, and the host
// paths and config mounts the agent uses.
func TestDaemonSetSecurity(t *testing.T) {
	objs := loadKustomization(t, "kubernetes")
	ds := find[*appsv1.DaemonSet](t, objs, "DaemonSet", "bulkhead")
	spec := ds.Spec.Template.Spec
	if !spec.HostNetwork || !spec.HostPID {
		t.Errorf("hostNetwork %v, hostPID %v: want both", spec.HostNetwork, spec.HostPID)
	}
	if spec.HostIPC {
		t.Error("hostIPC: not needed")
	}
	if len(spec.Containers) != 1 || len(spec.InitContainers) != 0 {
		t.Fatalf("%d containers, %d init containers: want one agent container", len(spec.Containers), len(spec.InitContainers))
	}
	c := spec.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.Capabilities == nil {
		t.Fatal("no securityContext with capabilities")
	}
	if sc.Privileged == nil || *sc.Privileged {
		t.Error("privileged must be explicitly false")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation must be explicitly false")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem must be true")
	}
	if diff := cmp.Diff([]corev1.Capability{"ALL"}, sc.Capabilities.Drop); diff != "" {
		t.Errorf("capabilities.drop (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]corev1.Capability{"NET_ADMIN", "NET_RAW", "SYS_ADMIN"}, slices.Sorted(slices.Values(sc.Capabilities.Add))); diff != "" {
		t.Errorf("capabilities.add (-want +got):\n%s", diff)
	}
	if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("seccompProfile must be RuntimeDefault")
	}

	port := -1
	for _, p := range c.Ports {
		if p.Name == "metrics" {
			port = int(p.ContainerPort)
		}
	}
	if port != 9447 {
		t.Errorf("metrics port %d, want 9447", port)
	}
	for name, probe := range map[string]*corev1.Probe{"liveness /healthz": c.LivenessProbe, "readiness /readyz": c.ReadinessProbe} {
		want := strings.Fields(name)[1]
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != want || probe.HTTPGet.Port.String() != "metrics" {
			t.Errorf("%s probe: %+v; want HTTP GET %s on the metrics port", name, probe, want)
		}
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		lim, ok := c.Resources.Limits[r]
		req, ok2 := c.Resources.Requests[r]
		if !ok || !ok2 || lim.IsZero() || req.Cmp(lim) > 0 {
			t.Errorf("%s: request %v, limit %v: want both, request ≤ limit", r, req.String(), lim.String())
		}
	}
	if mem := c.Resources.Limits[corev1.ResourceMemory]; mem.Cmp(resource.MustParse("256Mi")) < 0 {
		t.Errorf("memory limit %s is below the flow table's 128 MiB plus headroom", mem.String())
	}
	if tag := c.Image[strings.LastIndex(c.Image, ":")+1:]; !strings.Contains(c.Image, ":") || tag == "latest" {
		t.Errorf("image %q: want an explicit tag, not latest", c.Image)
	}

	hostPaths := map[string]string{}
	for _, v := range spec.Volumes {
		if v.HostPath != nil {
			hostPaths[v.Name] = v.HostPath.Path
		}
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	for _, want := range []struct{ host, mount string }{
		{"/var/lib/bulkhead", "/var/lib/bulkhead"},
		{"/run/bulkhead", "/run/bulkhead"},
		{"/run/netns", "/run/netns"},
		{"/run/xtables.lock", "/run/xtables.lock"},
	} {
		if vol := mounts[want.mount]; hostPaths[vol] != want.host {
			t.Errorf("mount %s: volume %q with host path %q, want host path %s", want.mount, vol, hostPaths[vol], want.host)
		}
	}
	configMaps := map[string]string{}
	for _, v := range spec.Volumes {
		if v.ConfigMap != nil {
			configMaps[v.Name] = v.ConfigMap.Name
		}
	}
	for mount, cm := range map[string]string{"/etc/bulkhead/agent.yaml": "bulkhead-agent", "/etc/bulkhead/policy": "bulkhead-policy"} {
		if got := configMaps[mounts[mount]]; got != cm {
			t.Errorf("mount %s: config map %q, want %s", mount, got, cm)
		}
		find[*corev1.ConfigMap](t, objs, "ConfigMap", cm)
	}
	if !slices.Contains(c.Args, "--config=/etc/bulkhead/agent.yaml") {
		t.Errorf("args %v: want --config=/etc/bulkhead/agent.yaml", c.Args)
	}
	if spec.ServiceAccountName != "bulkhead" {
		t.Errorf("serviceAccountName %q", spec.ServiceAccountName)
	}
	find[*corev1.ServiceAccount](t, objs, "ServiceAccount", "bulkhead")
	for k, want := range map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "9447", "prometheus.io/path": "/metrics"} {
		if got := ds.Spec.Template.Annotations[k]; got != want {
			t.Errorf("pod annotation %s = %q, want %q", k, got, want)
		}
	}
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	if !sel.Matches(k8slabels.Set(ds.Spec.Template.Labels)) {
		t.Error("the DaemonSet's selector does not match its pod template")
	}
}

// TestNoKubernetesAPIAccess checks least privilege towards the Kubernetes
// API: the agent calls none today, so the manifests grant no RBAC rights
// (no Role, ClusterRole or binding) and mount no service-account token,
// while the ServiceAccount the DaemonSet names exists. The privileged Pod
// Security level of the namespace is what host networking, the host PID
// namespace and the capabilities need.
func TestNoKubernetesAPIAccess(t *testing.T) {
	objs := loadKustomization(t, "kubernetes")
	for _, o := range objs {
		switch o.obj.(type) {
		case *rbacv1.Role, *rbacv1.ClusterRole, *rbacv1.RoleBinding, *rbacv1.ClusterRoleBinding:
			t.Errorf("%s: %s %s grants Kubernetes API rights, but the agent calls no Kubernetes API", o.file, o.kind, o.name)
		}
	}
	sa := find[*corev1.ServiceAccount](t, objs, "ServiceAccount", "bulkhead")
	if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Error("ServiceAccount bulkhead: automountServiceAccountToken must be false (no API token in the pods)")
	}
	ds := find[*appsv1.DaemonSet](t, objs, "DaemonSet", "bulkhead")
	if am := ds.Spec.Template.Spec.AutomountServiceAccountToken; am == nil || *am {
		t.Error("DaemonSet bulkhead: the pod template must set automountServiceAccountToken: false")
	}
	ns := find[*corev1.Namespace](t, objs, "Namespace", "bulkhead")
	if ns.Labels["pod-security.kubernetes.io/enforce"] != "privileged" {
		t.Error("the namespace must enforce the privileged Pod Security level (hostNetwork, hostPID and capabilities)")
	}
}

// TestNodeNameFromDownwardAPI checks that the DaemonSet gives the agent its
// node's Kubernetes name in NODE_NAME (which the agent's node name defaults
// to).
func TestNodeNameFromDownwardAPI(t *testing.T) {
	objs := loadKustomization(t, "kubernetes")
	ds := find[*appsv1.DaemonSet](t, objs, "DaemonSet", "bulkhead")
	var got []string
	for _, e := range ds.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "NODE_NAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			got = append(got, e.ValueFrom.FieldRef.FieldPath)
		}
	}
	if diff := cmp.Diff([]string{"spec.nodeName"}, got); diff != "" {
		t.Errorf("NODE_NAME from the downward API (-want +got):\n%s", diff)
	}
}

func TestPodMonitorSelectsAgent(t *testing.T) {
	base := loadKustomization(t, "kubernetes")
	mon := loadKustomization(t, "kubernetes/monitoring")
	ds := find[*appsv1.DaemonSet](t, base, "DaemonSet", "bulkhead")
	pm := find[*podMonitor](t, mon, "PodMonitor", "bulkhead")
	sel, err := metav1.LabelSelectorAsSelector(&pm.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	labels := ds.Spec.Template.Labels
	if !sel.Matches(k8slabels.Set(labels)) {
		t.Error("the PodMonitor does not select the agent's pods")
	}
	if labels[pm.Spec.JobLabel] != "bulkhead" {
		t.Errorf("jobLabel %q gives job %q; the alert rules expect job=\"bulkhead\"", pm.Spec.JobLabel, labels[pm.Spec.JobLabel])
	}
	if len(pm.Spec.PodMetricsEndpoints) != 1 || pm.Spec.PodMetricsEndpoints[0].Port != "metrics" {
		t.Errorf("endpoints %+v: want the metrics port", pm.Spec.PodMetricsEndpoints)
	}
}

// TestKustomizeBuild renders the kustomizations with the kustomize library
// (what `kubectl kustomize` runs) and decodes the result strictly.
func TestKustomizeBuild(t *testing.T) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	for _, dir := range []string{"kubernetes", "kubernetes/monitoring"} {
		res, err := k.Run(filesys.MakeFsOnDisk(), dir)
		if err != nil {
			t.Fatalf("kustomize build %s: %v", dir, err)
		}
		out, err := res.AsYaml()
		if err != nil {
			t.Fatalf("kustomize build %s: %v", dir, err)
		}
		objs, err := decodeManifests("kustomize "+dir, out)
		if err != nil {
			t.Fatal(err)
		}
		if want := len(loadKustomization(t, dir)); len(objs) != want {
			t.Errorf("kustomize %s: %d objects, want %d", dir, len(objs), want)
		}
	}
}
