// Package l7 identifies application protocols from payload bytes and extracts
// the attributes that policies match on: an HTTP method and path, a DNS query
// name, a TLS SNI, a Redis command and so on.
//
// The package makes no OS calls. The same code serves the agent (online, one
// flow at a time as packets arrive from the dataplane) and "bulkhead analyze"
// (offline, from packet captures).
//
// Detection is by payload. A port only breaks ties between protocols whose
// detectors all matched; traffic nothing recognises is Unknown, never guessed
// from the port.
//
// The online API is Engine and Flow (flow.go); the contract with the
// protocol parsers is in protocol.go; docs/l7.md describes detection,
// reassembly and the protocols, docs/flow-json.md the output of analyze.
package l7
