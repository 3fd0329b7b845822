package graphview

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/policy"
	"bulkhead.dev/bulkhead/policy/learn"
)

// l7Item is one entry of a summary: the verbs (methods, commands) used on
// one object (path, topic, name…).
type l7Item struct {
	verbs  map[string]bool
	object string
	count  uint64
}

func (it *l7Item) text() string {
	verbs := strings.Join(slices.Sorted(maps.Keys(it.verbs)), ",")
	switch {
	case it.object == "":
		return verbs
	case verbs == "":
		return it.object
	}
	return verbs + " " + it.object
}

// summarise returns the short L7 summary of a service's values: items most
// frequent first, as many as fit in opt.MaxL7Len characters (at least one),
// and how many were left out. HTTP paths with many distinct last segments
// become {param}, and many DNS or TLS names under one domain *.domain, as
// `policy generate` writes them.
func summarise(app l7.App, vals []learn.Value, opt Options) ([]string, int) {
	kind := policy.KindForApp(app)
	if kind == policy.KindNone || len(vals) == 0 {
		return nil, 0
	}
	vals = generaliseValues(kind, vals, opt)
	items := map[string]*l7Item{}
	add := func(verb, object string, n uint64) {
		key := object
		if object == "" {
			key = "\x00" + verb // verbs without an object are items of their own
		}
		it := items[key]
		if it == nil {
			it = &l7Item{verbs: map[string]bool{}, object: object}
			items[key] = it
		}
		if verb != "" {
			it.verbs[verb] = true
		}
		it.count += n
	}
	for _, v := range vals {
		verb, object := verbObject(kind, &v.Values)
		if verb == "" && object == "" {
			continue
		}
		add(verb, object, v.Count)
	}
	list := slices.Collect(maps.Values(items))
	texts := make(map[*l7Item]string, len(list))
	for _, it := range list {
		texts[it] = truncate(validUTF8(it.text()), opt.MaxL7Len)
	}
	slices.SortFunc(list, func(a, b *l7Item) int {
		return cmp.Or(cmp.Compare(b.count, a.count), strings.Compare(texts[a], texts[b]))
	})
	all := make([]string, len(list))
	for i, it := range list {
		all[i] = texts[it]
	}
	return capItems(all, opt.MaxL7Len)
}

// capItems keeps the leading items whose joined text fits in max
// characters (at least one) and returns how many it left out.
func capItems(all []string, max int) ([]string, int) {
	if len(all) == 0 {
		return nil, 0
	}
	sep := joinSep(all)
	n, length := 1, utf8.RuneCountInString(all[0])
	for ; n < len(all); n++ {
		length += len(sep) + utf8.RuneCountInString(all[n])
		if length > max {
			break
		}
	}
	return all[:n], len(all) - n
}

// joinSep is the separator of a summary: "," between commands
// ("GET,SET"), ", " otherwise ("GET /a, POST /b", "a.example.com, b.example.com").
func joinSep(items []string) string {
	for _, s := range items {
		if !isCommand(s) {
			return ", "
		}
	}
	return ","
}

// isCommand reports whether s looks like a command or method list:
// upper-case letters, digits, '_', '-' and ','.
func isCommand(s string) bool {
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == ',') {
			return false
		}
	}
	return s != ""
}

// L7Text is the service's L7 summary as one line: the items, then "+N
// more" for items left out ("+N+ more" — or "+more" — when the learned
// graph kept only some values). Empty when there is no summary.
func (s *Service) L7Text() string {
	if len(s.L7) == 0 {
		return ""
	}
	out := strings.Join(s.L7, joinSep(s.L7))
	switch {
	case s.L7More > 0 && s.L7Incomplete:
		out += " +" + strconv.Itoa(s.L7More) + "+ more"
	case s.L7More > 0:
		out += " +" + strconv.Itoa(s.L7More) + " more"
	case s.L7Incomplete:
		out += " +more"
	}
	return out
}

// verbObject splits a value into what was done and to what.
func verbObject(kind policy.L7Kind, v *learn.Values) (verb, object string) {
	switch kind {
	case policy.KindHTTP:
		object = v[policy.AttrPath]
		if object == "" {
			object = v[policy.AttrHost]
		}
		return v[policy.AttrMethod], object
	case policy.KindGRPC:
		svc, m := v[policy.AttrService], v[policy.AttrGRPCMethod]
		if svc != "" && m != "" {
			return "", svc + "/" + m
		}
		return "", svc + m
	case policy.KindDNS:
		return "", v[policy.AttrName]
	case policy.KindTLS:
		return "", v[policy.AttrSNI]
	case policy.KindKafka, policy.KindMQTT:
		return v[policy.AttrCommand], v[policy.AttrTopic]
	case policy.KindMySQL, policy.KindPostgreSQL:
		user, db := v[policy.AttrUser], v[policy.AttrDatabase]
		if user != "" && db != "" {
			return v[policy.AttrCommand], user + "@" + db
		}
		return v[policy.AttrCommand], user + db
	}
	return v[policy.AttrCommand], ""
}

// generaliseValues returns the values with HTTP paths and DNS/TLS names
// generalised, counts kept.
func generaliseValues(kind policy.L7Kind, vals []learn.Value, opt Options) []learn.Value {
	out := slices.Clone(vals)
	switch kind {
	case policy.KindHTTP:
		vs := make([]learn.Values, len(vals))
		for i := range vals {
			vs[i] = vals[i].Values
		}
		// GeneralisePaths returns the distinct generalised values: a value
		// not among them had its last segment replaced by {param}.
		type mhp struct{ method, host, path string }
		key := func(v *learn.Values) mhp { return mhp{v[policy.AttrMethod], v[policy.AttrHost], v[policy.AttrPath]} }
		gen := map[mhp]bool{}
		for _, v := range learn.GeneralisePaths(vs, opt.PathThreshold) {
			gen[key(&v)] = true
		}
		for i := range out {
			v := &out[i].Values
			k := key(v)
			if j := strings.LastIndexByte(k.path, '/'); j >= 0 && !gen[k] {
				k.path = k.path[:j] + "/{param}"
				if gen[k] {
					v[policy.AttrPath] = k.path
				}
			}
		}
	case policy.KindDNS, policy.KindTLS:
		attr := policy.AttrName
		if kind == policy.KindTLS {
			attr = policy.AttrSNI
		}
		names := make([]string, len(vals))
		for i := range vals {
			names[i] = vals[i].Values[attr]
		}
		pats := learn.WildcardNames(names, opt.DNSThreshold)
		for i := range out {
			out[i].Values[attr] = pats[out[i].Values[attr]]
		}
	}
	return out
}
