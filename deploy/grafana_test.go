package deploy_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// datasourceProvisioning mirrors Grafana's data source provisioning file
// (apiVersion 1) for the fields a Prometheus source uses; decoding is
// strict, so a misspelt key fails.
type datasourceProvisioning struct {
	APIVersion        int `json:"apiVersion"`
	DeleteDatasources []struct {
		Name  string `json:"name"`
		OrgID int    `json:"orgId"`
	} `json:"deleteDatasources"`
	Datasources []struct {
		Name      string         `json:"name"`
		UID       string         `json:"uid"`
		Type      string         `json:"type"`
		Access    string         `json:"access"`
		OrgID     int            `json:"orgId"`
		URL       string         `json:"url"`
		IsDefault bool           `json:"isDefault"`
		Editable  bool           `json:"editable"`
		Version   int            `json:"version"`
		JSONData  map[string]any `json:"jsonData"`
	} `json:"datasources"`
}

// dashboardProvisioning mirrors Grafana's dashboard provider file.
type dashboardProvisioning struct {
	APIVersion int `json:"apiVersion"`
	Providers  []struct {
		Name                  string `json:"name"`
		OrgID                 int    `json:"orgId"`
		Folder                string `json:"folder"`
		FolderUID             string `json:"folderUid"`
		Type                  string `json:"type"`
		DisableDeletion       bool   `json:"disableDeletion"`
		AllowUIUpdates        bool   `json:"allowUiUpdates"`
		UpdateIntervalSeconds int    `json:"updateIntervalSeconds"`
		Options               struct {
			Path                      string `json:"path"`
			FoldersFromFilesStructure bool   `json:"foldersFromFilesStructure"`
		} `json:"options"`
	} `json:"providers"`
}

func decodeStrictFile(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestGrafanaProvisioning(t *testing.T) {
	var ds datasourceProvisioning
	decodeStrictFile(t, "grafana/provisioning/datasources/bulkhead-prometheus.yaml", &ds)
	if ds.APIVersion != 1 || len(ds.Datasources) != 1 {
		t.Fatalf("datasources: apiVersion %d, %d sources; want 1 and 1", ds.APIVersion, len(ds.Datasources))
	}
	if s := ds.Datasources[0]; s.Type != "prometheus" || s.Access != "proxy" || s.UID == "" || !strings.HasPrefix(s.URL, "http") {
		t.Errorf("datasource %+v: want type prometheus, access proxy, a uid and an http URL", s)
	}

	var dp dashboardProvisioning
	decodeStrictFile(t, "grafana/provisioning/dashboards/bulkhead.yaml", &dp)
	if dp.APIVersion != 1 || len(dp.Providers) != 1 {
		t.Fatalf("dashboards: apiVersion %d, %d providers; want 1 and 1", dp.APIVersion, len(dp.Providers))
	}
	p := dp.Providers[0]
	if p.Type != "file" || !filepath.IsAbs(p.Options.Path) {
		t.Errorf("provider %+v: want type file and an absolute path", p)
	}
	// docs/deploy.md tells users where to copy the dashboards: the same path.
	doc, err := os.ReadFile("../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), p.Options.Path) {
		t.Errorf("docs/deploy.md does not mention the provider path %s", p.Options.Path)
	}
}
