package graphview

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"testing"

	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/policy/learn"
)

// largeInput is a cluster-sized graph: 500 workloads each calling 10 others
// over HTTP with 20 paths, 2,000 external addresses and 500 external names,
// and verdict counts for every internal edge.
func largeInput() Input {
	g := learn.New(stepClock(), learn.Limits{})
	var vs []VerdictCount
	for i := range 500 {
		src := learn.Workload(fmt.Sprintf("svc-%03d", i))
		for j := 1; j <= 10; j++ {
			dst := learn.Workload(fmt.Sprintf("svc-%03d", (i+j*7)%500))
			for p := range 20 {
				g.Observe(learn.Observation{Src: src, Dst: dst, Proto: l7.TCP, Port: 8080, App: l7.HTTP,
					SrcLabels: map[string]string{"app": src.Name, "team": fmt.Sprint(i % 10)},
					Request:   &l7.Request{Method: "GET", Path: fmt.Sprintf("/api/v1/res%d/%d", p, i)}})
			}
			vs = append(vs, VerdictCount{Src: src, Dst: dst, Proto: "tcp", Port: 8080, App: l7.HTTP, Allowed: 100, Denied: uint64(j % 3)})
		}
		for k := range 4 {
			a := netip.AddrFrom4([4]byte{198, 18, byte(i % 200), byte(k + 4*(i/200))})
			g.Observe(learn.Observation{Src: src, Dst: learn.Addr(a), Proto: l7.TCP, Port: 443, App: l7.TLS})
		}
		g.Observe(learn.Observation{Src: src, Dst: learn.FQDN(fmt.Sprintf("api%d.partner%d.example", i, i%50)), Proto: l7.TCP, Port: 443, App: l7.TLS,
			Request: &l7.Request{Host: fmt.Sprintf("api%d.partner%d.example", i, i%50)}})
	}
	return Input{Graph: g.Snapshot(), Verdicts: foldVerdicts(vs), HasVerdicts: true}
}

func BenchmarkBuild(b *testing.B) {
	for _, c := range []struct {
		name string
		in   Input
	}{{"realistic", realisticInput()}, {"large", largeInput()}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Build(c.in, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkWrite(b *testing.B) {
	g, err := Build(largeInput(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range []Format{FormatDot, FormatMermaid, FormatJSON} {
		b.Run("large/"+string(f), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := Write(b.Context(), io.Discard, g, f, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkReadInput(b *testing.B) {
	var doc bytes.Buffer
	in := largeInput()
	if err := in.WriteJSON(&doc); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(doc.Len()))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReadInput(bytes.NewReader(doc.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
}
