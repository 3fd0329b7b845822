package l7

// Detection.
//
// Every protocol registered for the flow's transport is a candidate. Each
// time a direction has new bytes (TCP: the whole prefix of its stream, up to
// Config.MaxDetectBytes; UDP: one datagram), the candidates not yet ruled
// out for that direction are asked with Detect:
//
//   - NoMatch rules the candidate out for that direction (TCP and UDP).
//   - NeedMore keeps it: TCP asks again with a longer prefix; for UDP the
//     datagram simply did not match.
//   - Matched makes it a winner. When several match on the same bytes, one
//     whose well-known ports include the flow's server port wins; otherwise
//     the first in registry order (App order). Ports never decide alone.
//
// The first winner decides the flow (StateDetected). A server-speaks-first
// protocol (SSH, SMTP, MySQL…) decides from the server's bytes the same way,
// unless it is marked ServerFirst and the client spoke first.
// When the caller guessed the orientation, the bytes are also tried with the
// directions swapped (after the caller's orientation found no winner): a
// winner there swaps the flow's sides (Flipped).
//
// A direction is exhausted when every candidate was ruled out for it, or its
// detection budget is spent (MaxDetectBytes/MaxDetectSegments for TCP,
// MaxDetectDatagrams for UDP), or it was stopped (reassembly limit). A
// direction that closed (FIN, RST) without sending anything counts as
// exhausted too. The flow becomes Unknown, for good, once both directions
// are exhausted. Until then the other side may still decide: a gRPC server
// sends its SETTINGS before the client's preface arrives, so a first
// speaker that matches nothing does not settle the question. While
// detection runs, the bytes of both directions are buffered (up to
// MaxDetectBytes each) so that the parser chosen later sees them.
//
// The agent that cannot wait (a flow where one side keeps silent) decides
// on its own with State, Requests and its own packet counts.

// detect runs the candidates on data sent by side and reports whether a
// protocol was decided.
func (f *Flow) detect(side int, data []byte) bool {
	cands := f.eng.cands[f.tr]
	hyps := 1
	if f.flags&flGuess != 0 && f.flags&flOriented == 0 {
		hyps = 2
	}
	all := uint64(1)<<uint(len(cands)) - 1
	if len(cands) == maxCandidates {
		all = ^uint64(0)
	}
	exhausted := true
	for h := 0; h < hyps; h++ {
		flip := (f.flags&flFlip != 0) != (h == 1)
		dir, serverPort := Dir(side), f.ports[1]
		if flip {
			dir, serverPort = dir^1, f.ports[0]
		}
		mask := f.ruled[side][h]
		best, bestPort := -1, false
		// Server bytes after the client spoke first are no greeting.
		clientFirst := dir == FromServer && f.flags&flFirstSet != 0 &&
			(f.flags&flFirstSide1 != 0) == (dir^Dir(side) == 1)
		for i := range cands {
			bit := uint64(1) << uint(i)
			if mask&bit != 0 {
				continue
			}
			if clientFirst && cands[i].p.ServerFirst {
				mask |= bit
				continue
			}
			switch cands[i].p.Detect(dir, data) {
			case NoMatch:
				mask |= bit
			case Matched:
				if port := cands[i].hasPort(serverPort); best < 0 || port && !bestPort {
					best, bestPort = i, port
				}
			}
		}
		f.ruled[side][h] = mask
		if best >= 0 {
			if h == 1 {
				f.flags ^= flFlip
			}
			f.flags |= flOriented
			f.decide(&cands[best])
			return true
		}
		if mask != all {
			exhausted = false
		}
	}
	if exhausted {
		f.st[side].flags |= stExhausted
	}
	return false
}

// decide starts the parser of candidate c.
func (f *Flow) decide(c *candidate) {
	f.cand = c
	f.parser = f.eng.newParser(c)
	f.app = c.p.App
	f.state = StateDetected
}
