package export

import (
	"fmt"
	"regexp"
	"strings"

	"bulkhead.dev/bulkhead/policy"
)

// ciliumKafkaKeys maps the Kafka API names the L7 engine reports (upper
// snake case, Kafka's own names) to the apiKey values Cilium accepts: its
// APIKeyMap, which covers API keys 0 to 33 under older names
// ("offsets" for ListOffsets). APIs absent here have no Cilium apiKey.
var ciliumKafkaKeys = map[string]string{
	"PRODUCE":                 "produce",
	"FETCH":                   "fetch",
	"LIST_OFFSETS":            "offsets",
	"METADATA":                "metadata",
	"LEADER_AND_ISR":          "leaderandisr",
	"STOP_REPLICA":            "stopreplica",
	"UPDATE_METADATA":         "updatemetadata",
	"CONTROLLED_SHUTDOWN":     "controlledshutdown",
	"OFFSET_COMMIT":           "offsetcommit",
	"OFFSET_FETCH":            "offsetfetch",
	"FIND_COORDINATOR":        "findcoordinator",
	"JOIN_GROUP":              "joingroup",
	"HEARTBEAT":               "heartbeat",
	"LEAVE_GROUP":             "leavegroup",
	"SYNC_GROUP":              "syncgroup",
	"DESCRIBE_GROUPS":         "describegroups",
	"LIST_GROUPS":             "listgroups",
	"SASL_HANDSHAKE":          "saslhandshake",
	"API_VERSIONS":            "apiversions",
	"CREATE_TOPICS":           "createtopics",
	"DELETE_TOPICS":           "deletetopics",
	"DELETE_RECORDS":          "deleterecords",
	"INIT_PRODUCER_ID":        "initproducerid",
	"OFFSET_FOR_LEADER_EPOCH": "offsetforleaderepoch",
	"ADD_PARTITIONS_TO_TXN":   "addpartitionstotxn",
	"ADD_OFFSETS_TO_TXN":      "addoffsetstotxn",
	"END_TXN":                 "endtxn",
	"WRITE_TXN_MARKERS":       "writetxnmarkers",
	"TXN_OFFSET_COMMIT":       "txnoffsetcommit",
	"DESCRIBE_ACLS":           "describeacls",
	"CREATE_ACLS":             "createacls",
	"DELETE_ACLS":             "deleteacls",
	"DESCRIBE_CONFIGS":        "describeconfigs",
	"ALTER_CONFIGS":           "alterconfigs",
}

// ciliumTopic is the topic syntax Cilium accepts (at most 255 bytes).
var ciliumTopic = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

// kafkaField is one field of a Cilium Kafka rule and the Bulkhead
// attribute it comes from; exact returns the Cilium value for an exact
// Bulkhead value, or why there is none.
type kafkaField struct {
	key, what string
	attr      policy.Attr
	exact     func(v string) (cilium, whyNot string)
}

var kafkaFields = []kafkaField{
	{"topic", "topic", policy.AttrTopic, func(t string) (string, string) {
		if len(t) > 255 || !ciliumTopic.MatchString(t) {
			return "", "not a topic name Cilium accepts (letters, digits, '.', '_', '-'; at most 255)"
		}
		return t, ""
	}},
	{"apiKey", "command", policy.AttrCommand, func(c string) (string, string) {
		if key, ok := ciliumKafkaKeys[strings.ToUpper(c)]; ok {
			return key, ""
		}
		return "", "Cilium has no apiKey for this API"
	}},
	{"clientID", "clientID", policy.AttrClientID, func(c string) (string, string) { return c, "" }},
}

// ciliumKafka converts kafka conditions to Cilium Kafka rules: topic,
// apiKey and clientID, each exact. A field Cilium cannot match exactly is
// left out of its entry with a note (wider); an entry that would then allow
// every Kafka request although the Bulkhead entry restricts something makes
// the whole rule lost (L4, with a comment) rather than silently open.
func ciliumKafka(r *policy.Rule) ciliumL7 {
	var out ciliumL7
	list := policy.Seq()
	for i := range r.Matches {
		m := &r.Matches[i]
		k := policy.Map().Flow()
		restricts := false
		for _, f := range kafkaFields {
			v := m.Values[f.attr]
			if v == "" || allStars(v) {
				continue // matches every value: nothing to restrict
			}
			restricts = true
			cv, why := "", "Cilium matches exact values only"
			if !strings.Contains(v, "*") {
				cv, why = f.exact(v)
			}
			if why != "" {
				out.notes = appendNote(out.notes, fmt.Sprintf("kafka %s %s: %s; left out of this entry (wider)", f.what, v, why))
				continue
			}
			k.Add(f.key, policy.Str(cv))
		}
		if restricts && len(k.Content) == 0 {
			return ciliumL7{lost: fmt.Sprintf("entry {%s} would allow every Kafka request in Cilium", m.Describe(r.Kind))}
		}
		list.Content = append(list.Content, k.Node)
	}
	rules := policy.Map().Add("kafka", list)
	out.rules = &rules
	return out
}
