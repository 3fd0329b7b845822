// Package state persists what the agent must not forget across restarts:
// the learned graph, the modes set at run time, and the last good policy.
//
// Each item is one JSON file in the state directory, written atomically
// (a temporary file in the same directory, written, fsynced, renamed over
// the old one, and the directory fsynced), so that after a crash or kill -9
// the file holds either the previous or the new snapshot, never a mix. The
// Store saves every registered item periodically (default every 10 s, and
// only when it changed) and at Close; after kill -9 and a restart at most
// the last interval is lost.
//
// Files carry an envelope with a schema version and a SHA-256 of the data.
// A file that is corrupt, truncated, of another schema, or that the item's
// loader refuses is never silently discarded: it is moved aside to
// NAME.json.corrupt-TIME, reported with both paths, and the item starts
// empty.
//
// The package is generic over what it saves: an item is a name, a snapshot
// function and a loader (the learned graph belongs to the policy package).
package state
