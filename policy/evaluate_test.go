package policy

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/l7"
)

func loadPlan(t testing.TB, path string) *Plan {
	t.Helper()
	pol, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Compile(pol)
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

func wl(plan *Plan, name string, labels ...string) Endpoint {
	m := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		m[labels[i]] = labels[i+1]
	}
	return plan.Workload(Workload{Name: name, Labels: m}, true)
}

// result is the comparable summary of a Decision.
type result struct {
	Verdict    string
	Need       string
	PerRequest bool
	Mode       string
	Rule       string
	Reason     string
}

func summarize(d Decision) result {
	return result{d.Verdict.String(), d.Need.String(), d.PerRequest, d.Mode.String(), d.Rule, d.Reason.String()}
}

func TestEvaluate(t *testing.T) {
	plan := loadPlan(t, "testdata/eval.yaml")
	web := wl(plan, "web", "app", "web")
	api := wl(plan, "api", "app", "api")
	ep := map[string]Endpoint{
		"web": web, "api": api,
		"grpc":      wl(plan, "grpc", "app", "grpc"),
		"dns":       wl(plan, "dns", "app", "dns"),
		"kafka":     wl(plan, "kafka", "app", "kafka"),
		"redis":     wl(plan, "redis", "app", "redis"),
		"mysql":     wl(plan, "mysql", "app", "mysql"),
		"pg":        wl(plan, "pg", "app", "pg"),
		"mqtt":      wl(plan, "mqtt", "app", "mqtt"),
		"batch":     wl(plan, "job", "tier", "cron", "env", "dev"),
		"prodbatch": wl(plan, "job2", "tier", "cron", "env", "prod"),
		"legacy":    wl(plan, "job3", "tier", "batch", "legacy", "yes"),
		"corp":      plan.Addr(netip.MustParseAddr("198.18.1.1")),
		"corp6":     plan.Addr(netip.MustParseAddr("2001:2::5")),
		"except":    plan.Addr(netip.MustParseAddr("198.18.99.7")),
		"mapped":    plan.Addr(netip.MustParseAddr("::ffff:198.18.1.1")),
		"gh":        plan.Addr(netip.MustParseAddr("203.0.113.5"), "api.github.com"),
		"ghroot":    plan.Addr(netip.MustParseAddr("203.0.113.6"), "GitHub.com."),
		"notgh":     plan.Addr(netip.MustParseAddr("203.0.113.7"), "github.com.evil.net"),
		"host":      plan.Host(),
		"remoteweb": plan.Workload(Workload{Name: "web2", Labels: map[string]string{"app": "web"}}, false),
	}
	type flow struct {
		src, dst string
		proto    l7.Transport
		port     uint16
		app      l7.App
		appKnown bool
		req      *l7.Request
	}
	tests := []struct {
		name string
		f    flow
		want result
	}{
		{"http before detection", flow{src: "web", dst: "api", proto: l7.TCP, port: 8080},
			result{"pending", "app", false, "protect", "web-api-http", "waiting for app detection (rule web-api-http allows one app on tcp/8080)"}},
		{"http before first request", flow{src: "web", dst: "api", proto: l7.TCP, port: 8080, appKnown: true, app: l7.HTTP},
			result{"pending", "request", true, "protect", "web-api-http", "waiting for the first http request (rule web-api-http has http conditions)"}},
		{"http allowed request", flow{src: "web", dst: "api", proto: l7.TCP, port: 8080, appKnown: true, app: l7.HTTP, req: &l7.Request{Method: "GET", Path: "/users/42", Host: "api.local"}},
			result{"allowed", "nothing", true, "protect", "web-api-http", "http request allowed by rule web-api-http"}},
		{"http glob method and prefix path", flow{src: "web", dst: "api", proto: l7.TCP, port: 8080, appKnown: true, app: l7.HTTP2, req: &l7.Request{Method: "PUT", Path: "/orders/7/items"}},
			result{"allowed", "nothing", true, "protect", "web-api-http", "http request allowed by rule web-api-http"}},
		{"http bad path", flow{src: "web", dst: "api", proto: l7.TCP, port: 8080, appKnown: true, app: l7.HTTP, req: &l7.Request{Method: "GET", Path: "/admin", Host: "api.local"}},
			result{"violation", "nothing", true, "protect", "web-api-http", `http path "/admin" not allowed by rule web-api-http`}},
		{"http bad host", flow{src: "web", dst: "api", proto: l7.TCP, port: 8080, appKnown: true, app: l7.HTTP, req: &l7.Request{Method: "GET", Path: "/users/1", Host: "evil"}},
			result{"violation", "nothing", true, "protect", "web-api-http", `http host "evil" not allowed by rule web-api-http`}},
		{"http traversal", flow{src: "web", dst: "api", proto: l7.TCP, port: 8080, appKnown: true, app: l7.HTTP, req: &l7.Request{Method: "POST", Path: "/orders/../admin"}},
			result{"violation", "nothing", true, "protect", "web-api-http", `http path "/orders/../admin" not allowed by rule web-api-http`}},
		{"wrong app on http port", flow{src: "web", dst: "api", proto: l7.TCP, port: 8080, appKnown: true, app: l7.SSH},
			result{"violation", "nothing", false, "protect", "web-api-http", "app ssh not allowed from web (web,everyone) to api (api,everyone) on tcp/8080 (rule web-api-http allows another app)"}},
		{"http without conditions", flow{src: "web", dst: "api", proto: l7.TCP, port: 9090, appKnown: true, app: l7.HTTP, req: &l7.Request{Path: "/anything"}},
			result{"allowed", "nothing", false, "protect", "web-api-health", "allowed by rule web-api-health"}},
		{"port not allowed", flow{src: "web", dst: "api", proto: l7.TCP, port: 22},
			result{"violation", "nothing", false, "protect", "", "no rule from web (web,everyone) to api (api,everyone) allows tcp/22"}},
		{"no rule", flow{src: "web", dst: "redis", proto: l7.TCP, port: 6379},
			result{"violation", "nothing", false, "protect", "", "no rule from web (web,everyone) to redis (redis,everyone)"}},
		{"grpc", flow{src: "api", dst: "grpc", proto: l7.TCP, port: 50051, appKnown: true, app: l7.GRPC, req: &l7.Request{GRPCService: "shop.Cart", GRPCMethod: "GetItems"}},
			result{"allowed", "nothing", true, "monitor", "api-grpc", "grpc request allowed by rule api-grpc"}},
		{"grpc bad method", flow{src: "api", dst: "grpc", proto: l7.TCP, port: 50051, appKnown: true, app: l7.GRPC, req: &l7.Request{GRPCService: "shop.Cart", GRPCMethod: "Delete"}},
			result{"violation", "nothing", true, "monitor", "api-grpc", `grpc method "Delete" not allowed by rule api-grpc`}},
		{"dns wildcard", flow{src: "api", dst: "dns", proto: l7.UDP, port: 53, appKnown: true, app: l7.DNS, req: &l7.Request{Host: "api.github.com"}},
			result{"allowed", "nothing", true, "monitor", "api-dns", "dns request allowed by rule api-dns"}},
		{"dns exfiltration", flow{src: "api", dst: "dns", proto: l7.UDP, port: 53, appKnown: true, app: l7.DNS, req: &l7.Request{Host: "aGVsbG8.evil.example"}},
			result{"violation", "nothing", true, "monitor", "api-dns", `dns name "aGVsbG8.evil.example" not allowed by rule api-dns`}},
		{"dns from learn-mode group", flow{src: "batch", dst: "dns", proto: l7.TCP, port: 53, appKnown: true, app: l7.DNS, req: &l7.Request{Host: "api.local"}},
			result{"allowed", "nothing", true, "monitor", "api-dns", "dns request allowed by rule api-dns"}},
		{"kafka", flow{src: "api", dst: "kafka", proto: l7.TCP, port: 9092, appKnown: true, app: l7.Kafka, req: &l7.Request{Topic: "orders.eu", Command: "PRODUCE"}},
			result{"allowed", "nothing", true, "monitor", "api-kafka", "kafka request allowed by rule api-kafka"}},
		{"kafka wrong command", flow{src: "api", dst: "kafka", proto: l7.TCP, port: 9092, appKnown: true, app: l7.Kafka, req: &l7.Request{Topic: "orders.eu", Command: "DELETE_TOPICS"}},
			result{"violation", "nothing", true, "monitor", "api-kafka", `kafka command "DELETE_TOPICS" not allowed by rule api-kafka`}},
		{"redis", flow{src: "api", dst: "redis", proto: l7.TCP, port: 6379, appKnown: true, app: l7.Redis, req: &l7.Request{Command: "set"}},
			result{"allowed", "nothing", true, "monitor", "api-redis", "redis request allowed by rule api-redis"}},
		{"redis flushall", flow{src: "api", dst: "redis", proto: l7.TCP, port: 6379, appKnown: true, app: l7.Redis, req: &l7.Request{Command: "FLUSHALL"}},
			result{"violation", "nothing", true, "monitor", "api-redis", `redis command "FLUSHALL" not allowed by rule api-redis`}},
		{"mysql", flow{src: "api", dst: "mysql", proto: l7.TCP, port: 3306, appKnown: true, app: l7.MySQL, req: &l7.Request{User: "shop", Database: "shop", Command: "SELECT"}},
			result{"allowed", "nothing", true, "monitor", "api-mysql", "mysql request allowed by rule api-mysql"}},
		{"mysql other db", flow{src: "api", dst: "mysql", proto: l7.TCP, port: 3306, appKnown: true, app: l7.MySQL, req: &l7.Request{User: "shop", Database: "mysql", Command: "SELECT"}},
			result{"violation", "nothing", true, "monitor", "api-mysql", `mysql database "mysql" not allowed by rule api-mysql`}},
		{"postgresql", flow{src: "api", dst: "pg", proto: l7.TCP, port: 5432, appKnown: true, app: l7.PostgreSQL, req: &l7.Request{User: "reporter", Database: "analytics"}},
			result{"allowed", "nothing", true, "monitor", "api-pg", "postgresql request allowed by rule api-pg"}},
		{"postgresql other user", flow{src: "api", dst: "pg", proto: l7.TCP, port: 5432, appKnown: true, app: l7.PostgreSQL, req: &l7.Request{User: "postgres", Database: "analytics"}},
			result{"violation", "nothing", true, "monitor", "api-pg", `postgresql user "postgres" not allowed by rule api-pg`}},
		{"mqtt", flow{src: "api", dst: "mqtt", proto: l7.TCP, port: 1883, appKnown: true, app: l7.MQTT, req: &l7.Request{Topic: "sensors/1/temp", Command: "PUBLISH"}},
			result{"allowed", "nothing", true, "monitor", "api-mqtt", "mqtt request allowed by rule api-mqtt"}},
		{"mqtt subscribe", flow{src: "api", dst: "mqtt", proto: l7.TCP, port: 1883, appKnown: true, app: l7.MQTT, req: &l7.Request{Topic: "sensors/1/temp", Command: "SUBSCRIBE"}},
			result{"violation", "nothing", true, "monitor", "api-mqtt", `mqtt command "SUBSCRIBE" not allowed by rule api-mqtt`}},
		{"tls to fqdn group", flow{src: "api", dst: "gh", proto: l7.TCP, port: 443, appKnown: true, app: l7.TLS, req: &l7.Request{Host: "api.github.com"}},
			result{"allowed", "nothing", true, "monitor", "api-github-tls", "tls request allowed by rule api-github-tls"}},
		{"tls to exact fqdn", flow{src: "api", dst: "ghroot", proto: l7.TCP, port: 443, appKnown: true, app: l7.TLS, req: &l7.Request{Host: "github.com"}},
			result{"allowed", "nothing", true, "monitor", "api-github-tls", "tls request allowed by rule api-github-tls"}},
		{"tls wrong sni", flow{src: "api", dst: "gh", proto: l7.TCP, port: 443, appKnown: true, app: l7.TLS, req: &l7.Request{Host: "evil.com"}},
			result{"violation", "nothing", true, "monitor", "api-github-tls", `tls sni "evil.com" not allowed by rule api-github-tls`}},
		{"lookalike fqdn is world", flow{src: "api", dst: "notgh", proto: l7.TCP, port: 443},
			result{"violation", "nothing", false, "monitor", "", "no rule from api (api,everyone) to 203.0.113.7 (github.com.evil.net)"}},
		{"cidr ingress range", flow{src: "corp", dst: "web", proto: l7.TCP, port: 8085},
			result{"allowed", "nothing", false, "protect", "corp-web", "allowed by rule corp-web"}},
		{"cidr ipv6", flow{src: "corp6", dst: "web", proto: l7.TCP, port: 8000},
			result{"allowed", "nothing", false, "protect", "corp-web", "allowed by rule corp-web"}},
		{"cidr v4-mapped", flow{src: "mapped", dst: "web", proto: l7.TCP, port: 8000},
			result{"allowed", "nothing", false, "protect", "corp-web", "allowed by rule corp-web"}},
		{"cidr except", flow{src: "except", dst: "web", proto: l7.TCP, port: 8000},
			result{"violation", "nothing", false, "protect", "", "no rule from 198.18.99.7 to web (web,everyone)"}},
		{"cidr port out of range", flow{src: "corp", dst: "web", proto: l7.UDP, port: 8000},
			result{"violation", "nothing", false, "protect", "", "no rule from 198.18.1.1 to web (web,everyone) allows udp/8000"}},
		{"world egress", flow{src: "web", dst: "gh", proto: l7.TCP, port: 443},
			result{"allowed", "nothing", false, "protect", "web-world", "allowed by rule web-world"}},
		{"selector expressions", flow{src: "batch", dst: "host", proto: l7.UDP, port: 123},
			result{"allowed", "nothing", false, "monitor", "batch-any", "allowed by rule batch-any"}},
		{"NotIn excludes prod", flow{src: "prodbatch", dst: "host", proto: l7.UDP, port: 123},
			result{"violation", "nothing", false, "monitor", "", "no rule from job2 (everyone) to host"}},
		{"DoesNotExist excludes legacy", flow{src: "legacy", dst: "host", proto: l7.UDP, port: 123},
			result{"violation", "nothing", false, "monitor", "", "no rule from job3 (everyone) to host"}},
		{"host ingress tcp any", flow{src: "host", dst: "web", proto: l7.TCP, port: 31337},
			result{"allowed", "nothing", false, "protect", "host-web", "allowed by rule host-web"}},
		{"remote peer's mode does not count", flow{src: "remoteweb", dst: "api", proto: l7.TCP, port: 9090, appKnown: true, app: l7.HTTP},
			result{"allowed", "nothing", false, "monitor", "web-api-health", "allowed by rule web-api-health"}},
		{"unknown endpoint", flow{src: "nobody", dst: "api", proto: l7.TCP, port: 9090},
			result{"violation", "nothing", false, "monitor", "", "no rule from unknown endpoint to api (api,everyone)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := Flow{Src: ep[tt.f.src], Dst: ep[tt.f.dst], Proto: tt.f.proto, Port: tt.f.port, AppKnown: tt.f.appKnown || tt.f.req != nil, App: tt.f.app, Request: tt.f.req}
			if d := cmp.Diff(tt.want, summarize(plan.Evaluate(&f))); d != "" {
				t.Errorf("decision (-want +got):\n%s", d)
			}
		})
	}
}
