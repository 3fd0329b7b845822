// Package events records what the agent reports: violations, drops, newly
// learned edges, policy reloads, mode changes and promotions. Each is one
// JSON line (the schema is docs/events.md) written to standard output and/or
// a size-rotated file, kept in a ring of recent events, and delivered to
// in-process subscribers (the API's streaming endpoint).
//
// The packet path calls Emitter.Emit, which never blocks and does no I/O: it
// puts the event on a bounded queue (a full queue drops the event and counts
// it) that one writer goroutine drains. Subscribers have bounded buffers too:
// a slow subscriber loses events and is told how many, and never slows the
// writer.
//
// Drop and violation events may carry the first packets of their connection;
// the writer then stores them as a pcapng file (raw IP link type) in the
// evidence directory, capped in number of files and bytes per file, oldest
// removed first, and names the file in the event.
package events
