package netns

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// noticeKind is what a netlink notification says happened.
type noticeKind uint8

const (
	linkChanged noticeKind = iota + 1 // RTM_NEWLINK: a link appeared or changed
	linkDeleted                       // RTM_DELLINK: a link went away (or left the namespace)
	addrChanged                       // RTM_NEWADDR or RTM_DELADDR
)

func (k noticeKind) String() string {
	switch k {
	case linkChanged:
		return "link"
	case linkDeleted:
		return "link-deleted"
	case addrChanged:
		return "addr"
	}
	return fmt.Sprintf("noticeKind(%d)", uint8(k))
}

// notice is one decoded notification: which interface of which namespace.
type notice struct {
	Kind  noticeKind
	NSID  int // the namespace, as an nsid of the node namespace; -1 for the node namespace itself
	Index int // ifindex inside that namespace
}

// errMalformed marks a datagram that is not a well-formed notification.
var errMalformed = errors.New("malformed notification")

// malformed returns an error wrapping errMalformed.
func malformed(format string, args ...any) error {
	return fmt.Errorf("netns: decode notification: "+format+": %w", append(args, errMalformed)...)
}

const (
	nlmsgHdrLen = 16 // struct nlmsghdr
	ifMsgLen    = 8  // the part of struct ifinfomsg / ifaddrmsg up to the ifindex
)

// decodeNotices appends to dst the notices in one datagram read from an
// rtnetlink socket with NETLINK_LISTEN_ALL_NSID: b holds the netlink
// messages, oob the control messages (the nsid of the namespace the
// notification comes from; none for the socket's own namespace). Messages
// of other types are skipped. A truncated or malformed datagram gives an
// error, with the notices decoded before the damage.
func decodeNotices(dst []notice, b, oob []byte) ([]notice, error) {
	nsid, err := sourceNSID(oob)
	if err != nil {
		return dst, err
	}
	for len(b) > 0 {
		if len(b) < nlmsgHdrLen {
			return dst, malformed("%d bytes left, shorter than a netlink header", len(b))
		}
		n := int(binary.NativeEndian.Uint32(b[0:4]))
		typ := binary.NativeEndian.Uint16(b[4:6])
		if n < nlmsgHdrLen || n > len(b) {
			return dst, malformed("message length %d outside [%d, %d]", n, nlmsgHdrLen, len(b))
		}
		body := b[nlmsgHdrLen:n]
		var kind noticeKind
		switch typ {
		case unix.RTM_NEWLINK:
			kind = linkChanged
		case unix.RTM_DELLINK:
			kind = linkDeleted
		case unix.RTM_NEWADDR, unix.RTM_DELADDR:
			kind = addrChanged
		}
		if kind != 0 {
			if len(body) < ifMsgLen {
				return dst, malformed("message type %d has a %d-byte body, want at least %d", typ, len(body), ifMsgLen)
			}
			if idx := int32(binary.NativeEndian.Uint32(body[4:8])); idx > 0 {
				dst = append(dst, notice{Kind: kind, NSID: nsid, Index: int(idx)})
			}
		}
		next := (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1)
		if next >= len(b) {
			break
		}
		b = b[next:]
	}
	return dst, nil
}

// sourceNSID finds the NETLINK_LISTEN_ALL_NSID control message; without
// one the notification comes from the socket's own namespace (-1).
func sourceNSID(oob []byte) (int, error) {
	if len(oob) == 0 {
		return -1, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return -1, malformed("%d bytes of control data (%v)", len(oob), err)
	}
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_NETLINK || m.Header.Type != unix.NETLINK_LISTEN_ALL_NSID {
			continue
		}
		if len(m.Data) < 4 {
			return -1, malformed("nsid control message with %d data bytes, want 4", len(m.Data))
		}
		return int(int32(binary.NativeEndian.Uint32(m.Data))), nil
	}
	return -1, nil
}
