package capture

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"bulkhead.dev/bulkhead/l7"
)

// BenchmarkProtocols replays each capture of ../testdata/captures (one per
// protocol, made with real clients and servers) through the l7 engine the
// way the agent uses it: one Flow per connection, summaries off, Release at
// the end. It reports the cost per packet (ns/packet, allocs/packet),
// connection set-up and tear-down included. "make bench-l7" prints them.
func BenchmarkProtocols(b *testing.B) {
	paths, _ := filepath.Glob(filepath.Join("..", "testdata", "captures", "*.pcap"))
	if len(paths) == 0 {
		b.Fatal("no captures in ../testdata/captures (they are committed: is the checkout complete?)")
	}
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".pcap")
		raw, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		pkts := replayPackets(b, raw)
		if len(pkts) == 0 {
			continue
		}
		b.Run(name, func(b *testing.B) {
			e := l7.NewEngine(l7.Config{})
			flows := make([]l7.Flow, maxFlowID(pkts)+1)
			var sink discard
			b.ReportAllocs()
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for _, p := range pkts {
					f := &flows[p.flow]
					if p.first {
						f.Init(e, p.tr, p.cport, p.sport, p.orient)
					}
					if p.tr == l7.TCP {
						f.TCP(p.dir, p.seq, p.flags, p.payload, sink)
					} else if len(p.payload) > 0 {
						f.UDP(p.dir, p.payload, sink)
					}
					if p.last {
						f.Release()
					}
				}
			}
			b.StopTimer()
			runtime.ReadMemStats(&ms1)
			n := float64(b.N) * float64(len(pkts))
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/packet")
			b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/n, "allocs/packet")
			b.ReportMetric(float64(len(pkts)), "packets")
		})
	}
}

// replayPacket is one TCP or UDP packet of a capture, ready for l7.
type replayPacket struct {
	flow         int
	first, last  bool
	tr           l7.Transport
	orient       l7.Orientation
	cport, sport uint16
	dir          l7.Dir
	seq          uint32
	flags        l7.TCPFlags
	payload      []byte
}

// replayPackets decodes a capture's TCP and UDP packets, numbering flows
// and orienting them as analyze would.
func replayPackets(b testing.TB, raw []byte) []replayPacket {
	src, err := openSource(bytes.NewReader(raw))
	if err != nil {
		b.Fatal(err)
	}
	type flowInfo struct {
		id        int
		clientIsA bool
	}
	ids := map[flowKey]flowInfo{}
	var out []replayPacket
	lastOf := map[int]int{}
	for {
		data, _, link, err := src.next()
		if err != nil {
			break
		}
		ip, err := decodeLink(link, data)
		if err != nil {
			continue
		}
		var p packet
		if decodeIP(ip, &p) != nil || p.frag || (p.proto != protoTCP && p.proto != protoUDP) {
			continue
		}
		k, srcIsA := canonical(&p)
		fi, seen := ids[k]
		rp := replayPacket{seq: p.seq, flags: l7.TCPFlags(p.flags), payload: append([]byte(nil), p.payload...), tr: l7.TCP}
		if p.proto == protoUDP {
			rp.tr = l7.UDP
		}
		if !seen {
			clientIsSrc, o := orientation(&p)
			fi = flowInfo{id: len(ids), clientIsA: clientIsSrc == srcIsA}
			ids[k] = fi
			rp.first, rp.orient = true, o
			rp.cport, rp.sport = p.sport, p.dport
			if !clientIsSrc {
				rp.cport, rp.sport = p.dport, p.sport
			}
		}
		rp.flow = fi.id
		rp.dir = l7.FromServer
		if srcIsA == fi.clientIsA {
			rp.dir = l7.FromClient
		}
		lastOf[fi.id] = len(out)
		out = append(out, rp)
	}
	for _, i := range lastOf {
		out[i].last = true
	}
	return out
}

func maxFlowID(pkts []replayPacket) int {
	m := 0
	for _, p := range pkts {
		m = max(m, p.flow)
	}
	return m
}

type discard struct{}

func (discard) Request(*l7.Request)   {}
func (discard) Response(*l7.Response) {}
func (discard) Note(string)           {}

// BenchmarkAnalyze measures the whole analyze pipeline (reading, decoding,
// flows, engine with summaries, JSON) over the captures, per packet.
func BenchmarkAnalyze(b *testing.B) {
	paths, _ := filepath.Glob(filepath.Join("..", "testdata", "captures", "*.pcap"))
	var all [][]byte
	packets := 0
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		all = append(all, raw)
		packets += len(replayPackets(b, raw))
	}
	if len(all) == 0 {
		b.Fatal("no captures in ../testdata/captures (they are committed: is the checkout complete?)")
	}
	var line []byte
	emit := func(r *Record) error {
		var err error
		line, err = r.AppendJSON(line[:0])
		return err
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		for _, raw := range all {
			if _, err := Analyze(context.Background(), bytes.NewReader(raw), Options{}, emit); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*packets), "ns/packet")
}
