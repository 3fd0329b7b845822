// Package capture is the pipeline of "bulkhead analyze": it reads pcap and
// pcapng files (gopacket's pure-Go pcapgo behind a guard against malformed
// blocks), strips the link layer (Ethernet with 802.1Q/QinQ tags, raw IP,
// Linux cooked SLL and SLL2, BSD loopback), decapsulates GTP-U and VXLAN,
// reassembles IPv4 and IPv6 fragments, tracks flows (bounded table, idle
// expiry), feeds their payload to the l7 engine with summaries on, and
// emits one Record per flow in a stable order (docs/flow-json.md).
//
// Everything is bounded whatever the input: packet sizes, pending
// fragments, tracked flows, held-back records. Nothing here touches the OS
// beyond the io.Reader it is given.
package capture
