// Package deploy holds what it takes to run Bulkhead where users run it:
// Kubernetes manifests (a kustomize base), a systemd unit, the Dockerfile of
// the image, Grafana dashboards and provisioning, and Prometheus alert
// rules. See docs/deploy.md.
//
// The Go package itself only embeds the Grafana dashboards and the
// Prometheus rules (FS), so that tests and tools read them without knowing
// where the checkout is; its tests check every file in this directory.
package deploy
