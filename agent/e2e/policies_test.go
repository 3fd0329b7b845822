package e2e_test

// shopPolicy is a hand-written policy for the test bed, every group in
// protect mode.
const shopPolicy = `apiVersion: bulkhead.dev/v1alpha1
kind: Policy
metadata: {name: shop}
spec:
  defaultMode: protect
  groups:
    - {name: frontend, selector: {matchLabels: {bulkhead.dev/workload: frontend}}}
    - {name: api, selector: {matchLabels: {bulkhead.dev/workload: api}}}
    - {name: db, selector: {matchLabels: {bulkhead.dev/workload: db}}}
    - {name: dns, selector: {matchLabels: {bulkhead.dev/workload: dns}}}
    - {name: allowed-sites, fqdns: ["*.allowed.example"]}
  rules:
    - name: frontend-to-api
      from: frontend
      to: api
      ports: [tcp/8080]
      app: http
      http:
        - {method: GET, path: "/users/{id}"}
        - {method: GET, path: /health}
        - {method: POST, path: /orders}
    - name: api-to-db
      from: api
      to: db
      ports: [tcp/6379]
      app: redis
      redis: [{command: GET}, {command: SET}, {command: PING}]
    - name: api-to-dns
      from: api
      to: dns
      ports: [udp/53, tcp/53]
      app: dns
      dns: [{name: "*.allowed.example"}, {name: "*.other.example"}]
    - {name: api-to-sites, from: api, to: allowed-sites, ports: [tcp/80], app: http}
`
