// Package policy is Bulkhead's policy language: the model loaded from YAML
// files, its validation, and the compiled plan the agent evaluates on the
// packet path.
//
// A policy names groups of endpoints (workloads by label selector, external
// addresses by CIDR or by FQDN, and the built-in groups "world" and "host"),
// gives each workload group a mode (learn, monitor, protect) and lists allow
// rules between groups: ports, an application protocol and optional L7
// conditions. Whatever no rule allows is a violation.
//
// The flow of use is:
//
//	pol, err := policy.Load("/etc/bulkhead/policy/")   // parse and validate; err is an ErrorList
//	plan, err := policy.Compile(pol)                     // immutable, safe to share
//	src := plan.Workload(policy.Workload{Name: "frontend", Labels: ...}, true)
//	dst := plan.Addr(ip, "api.example.com")
//	d := plan.Evaluate(&policy.Flow{Src: src, Dst: dst, Proto: l7.TCP, Port: 443})
//
// The package is pure logic: it reads the policy files it is given and makes
// no other OS call. The language itself is described in docs/policy.md.
package policy
