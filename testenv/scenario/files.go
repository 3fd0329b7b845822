package scenario

import (
	"bytes"
	"embed"
	"fmt"
	"strconv"
	"text/template"
)

// demoFiles are the templates of the agent's configuration and identity
// file. They are examples for people too: docs/demo.md points at them.
//
//go:embed demo/agent.yaml.tmpl demo/identities.yaml.tmpl
var demoFiles embed.FS

// AgentFiles are the values of the configuration template.
type AgentFiles struct {
	Node         string // node name in events and the graph
	PolicyDir    string
	StateDir     string
	Socket       string
	IdentityFile string
	// NetnsPrefix is stripped from namespace names of containers the
	// identity file does not name ("bh-demo-").
	NetnsPrefix string
}

// RenderConfig returns the agent's configuration file.
func RenderConfig(f AgentFiles) ([]byte, error) {
	return render("demo/agent.yaml.tmpl", f, nil)
}

// RenderIdentities returns the identity file naming the shop's containers,
// whose namespaces are called PREFIX-NAME.
func RenderIdentities(prefix string) ([]byte, error) {
	return render("demo/identities.yaml.tmpl", nil, template.FuncMap{
		"netns": func(name string) string { return prefix + "-" + name },
	})
}

func render(name string, data any, funcs template.FuncMap) ([]byte, error) {
	t := template.New(name[len("demo/"):]).Option("missingkey=error").Funcs(template.FuncMap{
		// YAML's double-quoted style accepts Go's quoted strings for the
		// characters our values can hold (paths, names).
		"quote": strconv.Quote,
		"netns": func(string) (string, error) { return "", fmt.Errorf("netns is not available in %s", name) },
	})
	if funcs != nil {
		t = t.Funcs(funcs)
	}
	t, err := t.ParseFS(demoFiles, name)
	if err != nil {
		return nil, fmt.Errorf("scenario: template %s: %w", name, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("scenario: render %s: %w", name, err)
	}
	return b.Bytes(), nil
}
