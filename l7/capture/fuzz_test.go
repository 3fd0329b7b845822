package capture

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"bulkhead.dev/bulkhead/l7"
)

// FuzzAnalyze feeds whole capture files to the analyze pipeline: whatever
// the bytes, it must not panic or hang, and what it emits must marshal.
// Seeds: the real captures of ../testdata/captures (cut to 16 KiB) and
// synthetic ones of every link type.
//
//	go test ./l7/capture -run '^$' -fuzz FuzzAnalyze -fuzztime 60s -fuzzminimizetime 5s -parallel 1
func FuzzAnalyze(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("..", "testdata", "captures", "*.pcap"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 16<<10)])
	}
	ex := frames(httpExchange(false), func(p []byte) []byte { return eth(p, 7) })
	f.Add(pcapFile(f, LinkEthernet, ex...))
	f.Add(pcapngFile(f, LinkSLL2, frames(httpExchange(true), func(p []byte) []byte { return append(make([]byte, 20), p...) })...))
	q := udpDgram(1, 53, dnsQueryBytes(f, "f.example."))
	f.Add(pcapFile(f, LinkRaw, frame{0, ipv4(cliIP, srvIP, 17, 1, 0, true, q[:64])}, frame{1, ipv4(cliIP, srvIP, 17, 1, 64, false, q[64:])}))
	f.Fuzz(func(t *testing.T, in []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n := 0
		st, _ := Analyze(ctx, bytes.NewReader(in), Options{MaxFlows: 64, Engine: l7.Config{MaxBuffer: 4096}}, func(r *Record) error {
			n++
			if _, err := r.AppendJSON(nil); err != nil {
				t.Fatalf("marshal record: %v", err)
			}
			if _, err := json.Marshal(r); err != nil {
				t.Fatalf("marshal record: %v", err)
			}
			return nil
		})
		if uint64(n) > st.Packets+st.Fragments {
			t.Fatalf("%d flows from %d packets", n, st.Packets)
		}
		if ctx.Err() != nil {
			t.Fatal("analysis took more than 10 s")
		}
	})
}
