package policy

import (
	"sort"

	"bulkhead.dev/bulkhead/l7"
)

// L7Kind names a family of L7 conditions; it is the key under which a rule
// lists them ("http:", "dns:", …).
type L7Kind uint8

// The L7 condition families.
const (
	KindNone L7Kind = iota
	KindHTTP
	KindGRPC
	KindDNS
	KindTLS
	KindKafka
	KindRedis
	KindMySQL
	KindPostgreSQL
	KindMQTT
	numKinds
)

// Attr is one L7 attribute a condition can test.
type Attr uint8

// The attributes, each read from one field of l7.Request.
const (
	AttrMethod     Attr = iota // http method: Request.Method
	AttrPath                   // http path: Request.Path
	AttrHost                   // http host: Request.Host
	AttrService                // grpc service: Request.GRPCService
	AttrGRPCMethod             // grpc method: Request.GRPCMethod
	AttrName                   // dns query name: Request.Host
	AttrSNI                    // tls server name: Request.Host
	AttrTopic                  // kafka and mqtt topic: Request.Topic
	AttrCommand                // command or statement kind: Request.Command
	AttrClientID               // kafka and mqtt client id: Request.ClientID
	AttrUser                   // database user: Request.User
	AttrDatabase               // database name: Request.Database
	NumAttrs
)

// patternKind is how an attribute's patterns are written and matched.
type patternKind uint8

const (
	patGlob     patternKind = iota // "*" wildcards, case-sensitive
	patGlobFold                    // "*" wildcards, case-insensitive
	patPath                        // PathPattern
	patDNS                         // DNSPattern
)

type attrInfo struct {
	pattern patternKind
	get     func(r *l7.Request) string
}

var attrs = [NumAttrs]attrInfo{
	AttrMethod:     {patGlobFold, func(r *l7.Request) string { return r.Method }},
	AttrPath:       {patPath, func(r *l7.Request) string { return r.Path }},
	AttrHost:       {patDNS, func(r *l7.Request) string { return r.Host }},
	AttrService:    {patGlob, func(r *l7.Request) string { return r.GRPCService }},
	AttrGRPCMethod: {patGlob, func(r *l7.Request) string { return r.GRPCMethod }},
	AttrName:       {patDNS, func(r *l7.Request) string { return r.Host }},
	AttrSNI:        {patDNS, func(r *l7.Request) string { return r.Host }},
	AttrTopic:      {patGlob, func(r *l7.Request) string { return r.Topic }},
	AttrCommand:    {patGlobFold, func(r *l7.Request) string { return r.Command }},
	AttrClientID:   {patGlob, func(r *l7.Request) string { return r.ClientID }},
	AttrUser:       {patGlob, func(r *l7.Request) string { return r.User }},
	AttrDatabase:   {patGlob, func(r *l7.Request) string { return r.Database }},
}

// Value returns the attribute's value in r.
func (a Attr) Value(r *l7.Request) string { return attrs[a].get(r) }

// KindField is one field of an L7 condition entry: its YAML key and the
// attribute it tests.
type KindField struct {
	Key  string
	Attr Attr
}

type kindInfo struct {
	name   string
	apps   []l7.App
	fields []KindField
}

var kinds = [numKinds]kindInfo{
	KindNone: {name: ""},
	KindHTTP: {"http", []l7.App{l7.HTTP, l7.HTTP2},
		[]KindField{{"method", AttrMethod}, {"path", AttrPath}, {"host", AttrHost}}},
	KindGRPC: {"grpc", []l7.App{l7.GRPC},
		[]KindField{{"service", AttrService}, {"method", AttrGRPCMethod}}},
	KindDNS: {"dns", []l7.App{l7.DNS}, []KindField{{"name", AttrName}}},
	KindTLS: {"tls", []l7.App{l7.TLS, l7.QUIC}, []KindField{{"sni", AttrSNI}}},
	KindKafka: {"kafka", []l7.App{l7.Kafka},
		[]KindField{{"topic", AttrTopic}, {"command", AttrCommand}, {"clientID", AttrClientID}}},
	KindRedis: {"redis", []l7.App{l7.Redis}, []KindField{{"command", AttrCommand}}},
	KindMySQL: {"mysql", []l7.App{l7.MySQL},
		[]KindField{{"user", AttrUser}, {"database", AttrDatabase}, {"command", AttrCommand}}},
	KindPostgreSQL: {"postgresql", []l7.App{l7.PostgreSQL},
		[]KindField{{"user", AttrUser}, {"database", AttrDatabase}, {"command", AttrCommand}}},
	KindMQTT: {"mqtt", []l7.App{l7.MQTT},
		[]KindField{{"topic", AttrTopic}, {"command", AttrCommand}, {"clientID", AttrClientID}}},
}

// String returns the kind's YAML key ("http").
func (k L7Kind) String() string {
	if k < numKinds {
		return kinds[k].name
	}
	return "unknown"
}

// Fields returns the fields an entry of this kind may set, in YAML order.
func (k L7Kind) Fields() []KindField {
	if k < numKinds {
		return kinds[k].fields
	}
	return nil
}

// Apps returns the apps whose rules may carry conditions of this kind.
func (k L7Kind) Apps() []l7.App {
	if k < numKinds {
		return kinds[k].apps
	}
	return nil
}

// Fits reports whether conditions of kind k apply to app.
func (k L7Kind) Fits(app l7.App) bool {
	for _, a := range k.Apps() {
		if a == app {
			return true
		}
	}
	return false
}

// Key returns the YAML key of attribute a within kind k ("path"), or "".
func (k L7Kind) Key(a Attr) string {
	for _, f := range k.Fields() {
		if f.Attr == a {
			return f.Key
		}
	}
	return ""
}

// ParseKind returns the kind whose YAML key is s.
func ParseKind(s string) (L7Kind, bool) {
	for k := KindHTTP; k < numKinds; k++ {
		if kinds[k].name == s {
			return k, true
		}
	}
	return KindNone, false
}

// KindForApp returns the kind of L7 conditions that fit app, or KindNone.
func KindForApp(app l7.App) L7Kind {
	for k := KindHTTP; k < numKinds; k++ {
		if k.Fits(app) {
			return k
		}
	}
	return KindNone
}

// L7Match is one entry of a rule's L7 conditions: it matches a request when
// every attribute it sets matches (an empty value tests nothing). A rule's
// conditions allow a request when any entry matches.
type L7Match struct {
	Values [NumAttrs]string
	Pos    Pos
}

// Describe renders the entry as "method=GET path=/users/{id}" in the kind's
// field order.
func (m *L7Match) Describe(k L7Kind) string {
	s := ""
	for _, f := range k.Fields() {
		if v := m.Values[f.Attr]; v != "" {
			if s != "" {
				s += " "
			}
			s += f.Key + "=" + v
		}
	}
	return s
}

// SortMatches orders entries by their values, field by field.
func SortMatches(k L7Kind, ms []L7Match) {
	sort.SliceStable(ms, func(i, j int) bool { return CompareMatches(k, &ms[i], &ms[j]) < 0 })
}

// CompareMatches orders two entries by their values in the kind's field order.
func CompareMatches(k L7Kind, a, b *L7Match) int {
	for _, f := range k.Fields() {
		if x, y := a.Values[f.Attr], b.Values[f.Attr]; x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// PatternMatchesItself reports whether s is a valid pattern for attribute a
// that matches the text s itself. Generators use it to check that a value
// seen can be written as a condition that allows it.
func PatternMatchesItself(a Attr, s string) bool {
	m, err := compileAttr(a, s)
	if err != nil || m.String() != s && attrs[a].pattern != patGlobFold {
		return false
	}
	return m.match(s)
}
