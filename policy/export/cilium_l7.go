package export

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"bulkhead.dev/bulkhead/policy"
)

// ciliumL7 is a rule's L7 conditions as Cilium expresses them.
type ciliumL7 struct {
	rules       *policy.YAMLMap // toPorts[].rules, or nil
	serverNames *yaml.Node      // toPorts[].serverNames, or nil
	// notes say where the mapping differs from Bulkhead (wider or narrower).
	notes []string
	// lost, when set, says why the conditions cannot be exported: the rule
	// is then exported at L4 (wider).
	lost string
}

// ciliumConditions converts a rule's L7 conditions to Cilium L7 rules where
// Cilium has them. It never turns a restricting entry into one that allows
// every request without saying so: such a rule is lost (exported at L4 with
// a comment) instead.
func ciliumConditions(r *policy.Rule) ciliumL7 {
	for i := range r.Matches {
		for _, v := range r.Matches[i].Values {
			if !utf8.ValidString(v) {
				return ciliumL7{lost: fmt.Sprintf("%q is not UTF-8 text, which Cilium's patterns need", v)}
			}
		}
	}
	switch r.Kind {
	case policy.KindHTTP, policy.KindGRPC:
		return ciliumHTTP(r)
	case policy.KindDNS:
		var out ciliumL7
		list := policy.Seq()
		for i := range r.Matches {
			m, note := dnsMatch(r.Matches[i].Values[policy.AttrName])
			list.Content = append(list.Content, m.Node)
			out.notes = appendNote(out.notes, note)
		}
		rules := policy.Map().Add("dns", list)
		out.rules = &rules
		return out
	case policy.KindKafka:
		return ciliumKafka(r)
	case policy.KindTLS:
		var names []string
		for i := range r.Matches {
			sni := r.Matches[i].Values[policy.AttrSNI]
			if sni == "*" {
				return ciliumL7{} // any server name: nothing to restrict
			}
			// Cilium's "**." prefix is one or more labels (Cilium 1.18
			// and later), Bulkhead's "*.".
			if strings.HasPrefix(sni, "*.") {
				sni = "*" + sni
			}
			names = append(names, sni)
		}
		slices.Sort(names)
		return ciliumL7{serverNames: policy.FlowSeq(slices.Compact(names)...)}
	}
	return ciliumL7{lost: fmt.Sprintf("Cilium has no %s rules", r.Kind)}
}

// ciliumHTTP converts http conditions (method, path, host as regular
// expressions) and grpc conditions (POST /service/method).
func ciliumHTTP(r *policy.Rule) ciliumL7 {
	var out ciliumL7
	list := policy.Seq()
	for i := range r.Matches {
		m := &r.Matches[i]
		h := policy.Map().Flow()
		if r.Kind == policy.KindGRPC {
			h.Add("method", policy.Str("POST"))
			h.Add("path", policy.Str("/"+globRegex(orStar(m.Values[policy.AttrService]))+"/"+globRegex(orStar(m.Values[policy.AttrGRPCMethod]))))
		} else {
			if v := m.Values[policy.AttrMethod]; v != "" && !allStars(v) {
				h.Add("method", policy.Str(globRegex(v)))
			}
			if v := m.Values[policy.AttrPath]; v != "" {
				h.Add("path", policy.Str(pathRegex(v)))
			}
			if v := m.Values[policy.AttrHost]; v != "" && v != "*" {
				h.Add("host", policy.Str(hostRegex(v)))
			}
		}
		list.Content = append(list.Content, h.Node)
	}
	rules := policy.Map().Add("http", list)
	out.rules = &rules
	return out
}

// allStars reports whether a glob is only '*': it matches every value, so
// leaving it out restricts nothing less.
func allStars(g string) bool { return g != "" && strings.Trim(g, "*") == "" }

func orStar(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

// globRegex turns a glob into an RE2 regular expression ('*' → ".*").
func globRegex(g string) string {
	parts := strings.Split(g, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return strings.Join(parts, ".*")
}

// hostRegex turns a name pattern into the regular expression Cilium matches
// against the whole Host header (":authority" in the proxy), which is
// as the client sent it: any case, maybe a trailing dot and a ":port" that
// the L7 engine strips before Bulkhead compares. So: case-insensitive, the
// name (or, for "*.domain", one or more labels before the domain), an
// optional trailing dot and an optional port.
func hostRegex(p string) string {
	const tail = `\.?(:[0-9]*)?`
	if dom, ok := strings.CutPrefix(p, "*."); ok {
		return `(?i)([-a-z0-9_]+\.)+` + regexp.QuoteMeta(dom) + tail
	}
	return "(?i)" + regexp.QuoteMeta(p) + tail
}

// pathRegex turns a path pattern into the regular expression Cilium
// matches against the whole path.
func pathRegex(p string) string {
	if !strings.ContainsAny(p, "*{}") {
		return regexp.QuoteMeta(p)
	}
	segs := strings.Split(p[1:], "/")
	var b strings.Builder
	for i, s := range segs {
		switch {
		case s == "**" && i == len(segs)-1:
			b.WriteString("(/.*)?")
			continue
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			b.WriteString("/[^/]+")
		default:
			parts := strings.Split(s, "*")
			for j, part := range parts {
				parts[j] = regexp.QuoteMeta(part)
			}
			b.WriteString("/" + strings.Join(parts, "[^/]*"))
		}
	}
	return b.String()
}
