package metrics_test

import (
	"testing"

	"bulkhead.dev/bulkhead/agent/metrics"
)

func TestHTTPRequestLabels(t *testing.T) {
	tests := []struct {
		method     string
		status     int
		wantMethod string
		wantClass  string
	}{
		{"GET", 200, "GET", "2xx"},
		{"POST", 201, "POST", "2xx"},
		{"PATCH", 304, "PATCH", "3xx"},
		{"DELETE", 404, "DELETE", "4xx"},
		{"PUT", 503, "PUT", "5xx"},
		{"OPTIONS", 101, "OPTIONS", "1xx"},
		{"HEAD", 0, "HEAD", "none"},
		{"CONNECT", 600, "CONNECT", "other"},
		{"TRACE", 99, "TRACE", "other"},
		{"get", 200, "OTHER", "2xx"},
		{"PROPFIND", 207, "OTHER", "2xx"},
		{"", -1, "OTHER", "other"},
	}
	for _, tt := range tests {
		m := newMetrics(t, metrics.Options{})
		m.HTTPRequest(tt.method, tt.status)
		want := map[string]string{"method": tt.wantMethod, "status_class": tt.wantClass}
		if got := counterValue(t, m.Registry(), "bulkhead_http_requests_total", want); got != 1 {
			t.Errorf("HTTPRequest(%q, %d): %v = %v, want 1", tt.method, tt.status, want, got)
		}
		if n := seriesCount(t, m.Registry(), "bulkhead_http_requests_total"); n != 1 {
			t.Errorf("HTTPRequest(%q, %d) exported %d series, want 1", tt.method, tt.status, n)
		}
	}
}

func TestDNSQueryLabels(t *testing.T) {
	tests := []struct {
		rcode int
		want  string
	}{
		{0, "NOERROR"}, {1, "FORMERR"}, {2, "SERVFAIL"}, {3, "NXDOMAIN"}, {4, "NOTIMP"}, {5, "REFUSED"},
		{9, "NOTAUTH"}, {16, "BADVERS"}, {23, "BADCOOKIE"}, {24, "OTHER"}, {4095, "OTHER"}, {-1, "OTHER"},
	}
	for _, tt := range tests {
		m := newMetrics(t, metrics.Options{})
		m.DNSQuery(tt.rcode)
		if got := counterValue(t, m.Registry(), "bulkhead_dns_queries_total", map[string]string{"rcode": tt.want}); got != 1 {
			t.Errorf("DNSQuery(%d): rcode %s = %v, want 1", tt.rcode, tt.want, got)
		}
	}
}

// TestHTTPRequestOf checks that a method kept as an HTTPMethod counts
// under the same series as the method string.
func TestHTTPRequestOf(t *testing.T) {
	for _, method := range []string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "get", "PROPFIND", ""} {
		m := newMetrics(t, metrics.Options{})
		parsed := metrics.ParseHTTPMethod(method)
		m.HTTPRequestOf(parsed, 204)
		want := "OTHER"
		if method != "get" && method != "PROPFIND" && method != "" {
			want = method
		}
		if parsed.String() != want {
			t.Errorf("ParseHTTPMethod(%q).String() = %q, want %q", method, parsed, want)
		}
		if got := counterValue(t, m.Registry(), "bulkhead_http_requests_total", map[string]string{"method": want, "status_class": "2xx"}); got != 1 {
			t.Errorf("HTTPRequestOf(%q, 204): method %s = %v, want 1", method, want, got)
		}
	}
	if got := metrics.HTTPMethod(200).String(); got != "OTHER" {
		t.Errorf("HTTPMethod(200).String() = %q, want OTHER", got)
	}
}
