package learn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/policy"
)

// Values is one distinct combination of L7 attributes seen on an edge,
// projected on the attributes of the edge's app (policy.KindForApp), with
// ids in HTTP paths already generalised (see GeneralisePath).
type Values [policy.NumAttrs]string

// attrNames are the JSON keys of the attributes.
var attrNames = [policy.NumAttrs]string{
	policy.AttrMethod:     "method",
	policy.AttrPath:       "path",
	policy.AttrHost:       "host",
	policy.AttrService:    "service",
	policy.AttrGRPCMethod: "grpcMethod",
	policy.AttrName:       "name",
	policy.AttrSNI:        "sni",
	policy.AttrTopic:      "topic",
	policy.AttrCommand:    "command",
	policy.AttrClientID:   "clientID",
	policy.AttrUser:       "user",
	policy.AttrDatabase:   "database",
}

// clone returns v with strings of its own, which do not share memory with
// the request they were read from.
func (v Values) clone() Values {
	for i := range v {
		v[i] = strings.Clone(v[i])
	}
	return v
}

// compareValues orders Values attribute by attribute.
func compareValues(a, b *Values) int {
	for i := range a {
		if c := strings.Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

// ValuesOf projects a request on the attributes that policies of app's
// kind test, normalised. ok is false when the app has no L7 conditions or
// the request carries none of their attributes.
func ValuesOf(app l7.App, r *l7.Request) (v Values, ok bool) {
	kind := policy.KindForApp(app)
	if kind == policy.KindNone || r == nil {
		return v, false
	}
	for _, f := range kind.Fields() {
		val := f.Attr.Value(r)
		switch f.Attr {
		case policy.AttrPath:
			val = GeneralisePath(val)
		case policy.AttrHost, policy.AttrName, policy.AttrSNI:
			val = strings.ToLower(strings.TrimSuffix(val, "."))
		case policy.AttrMethod, policy.AttrCommand:
			val = strings.ToUpper(val)
		}
		if len(val) > maxValueLen {
			val = val[:maxValueLen]
		}
		v[f.Attr] = val
		ok = ok || val != ""
	}
	return v, ok
}

// maxValueLen bounds each recorded attribute value.
const maxValueLen = 512

// Value is a distinct Values with its count.
type Value struct {
	Values Values
	Count  uint64
}

// MarshalJSON writes the set attributes by name plus "count".
func (v Value) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, s := range v.Values {
		if s == "" {
			continue
		}
		k, _ := json.Marshal(attrNames[i])
		val, _ := json.Marshal(s)
		b.Write(k)
		b.WriteByte(':')
		b.Write(val)
		b.WriteByte(',')
	}
	fmt.Fprintf(&b, `"count":%d}`, v.Count)
	return b.Bytes(), nil
}

// UnmarshalJSON reads the form MarshalJSON writes.
func (v *Value) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("learn: l7 value: %w", err)
	}
	*v = Value{}
	for k, raw := range m {
		if k == "count" {
			if err := json.Unmarshal(raw, &v.Count); err != nil {
				return fmt.Errorf("learn: l7 value count: %w", err)
			}
			continue
		}
		i := slices.Index(attrNames[:], k)
		if i < 0 {
			return fmt.Errorf("learn: l7 value: unknown attribute %q", k)
		}
		if err := json.Unmarshal(raw, &v.Values[i]); err != nil {
			return fmt.Errorf("learn: l7 value %s: %w", k, err)
		}
	}
	return nil
}
