package netns

import (
	"encoding/binary"
	"errors"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// nlmsg builds one netlink message of type typ whose body starts with a
// struct ifinfomsg / ifaddrmsg for ifindex idx, padded to alignment.
func nlmsg(typ uint16, idx int32, extra int) []byte {
	n := nlmsgHdrLen + 16 + extra // ifinfomsg is 16 bytes
	b := make([]byte, (n+3)&^3)
	binary.NativeEndian.PutUint32(b[0:], uint32(n))
	binary.NativeEndian.PutUint16(b[4:], typ)
	binary.NativeEndian.PutUint32(b[nlmsgHdrLen+4:], uint32(idx))
	return b
}

// cmsg builds one control message.
func cmsg(level, typ int32, data []byte) []byte {
	b := make([]byte, unix.CmsgSpace(len(data)))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(len(data)))
	copy(b[unix.CmsgLen(0):], data)
	return b
}

func nsidCmsg(nsid int32) []byte {
	d := make([]byte, 4)
	binary.NativeEndian.PutUint32(d, uint32(nsid))
	return cmsg(unix.SOL_NETLINK, unix.NETLINK_LISTEN_ALL_NSID, d)
}

func concat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

func TestDecodeNotices(t *testing.T) {
	for _, tc := range []struct {
		name      string
		b, oob    []byte
		want      []notice
		malformed bool
	}{
		{name: "node link", b: nlmsg(unix.RTM_NEWLINK, 5, 100), want: []notice{{linkChanged, -1, 5}}},
		{name: "node link deleted", b: nlmsg(unix.RTM_DELLINK, 5, 0), want: []notice{{linkDeleted, -1, 5}}},
		{name: "peer address", b: nlmsg(unix.RTM_NEWADDR, 2, 24), oob: nsidCmsg(3), want: []notice{{addrChanged, 3, 2}}},
		{name: "peer address removed", b: nlmsg(unix.RTM_DELADDR, 2, 24), oob: nsidCmsg(0), want: []notice{{addrChanged, 0, 2}}},
		{name: "other control messages ignored", b: nlmsg(unix.RTM_NEWLINK, 7, 0),
			oob: concat(cmsg(unix.SOL_SOCKET, unix.SCM_CREDENTIALS, make([]byte, 12)), nsidCmsg(4)), want: []notice{{linkChanged, 4, 7}}},
		{name: "several messages", b: concat(nlmsg(unix.RTM_NEWLINK, 5, 3), nlmsg(unix.RTM_NEWROUTE, 1, 0), nlmsg(unix.NLMSG_DONE, 0, 0), nlmsg(unix.RTM_NEWADDR, 6, 0)),
			want: []notice{{linkChanged, -1, 5}, {addrChanged, -1, 6}}},
		{name: "ifindex 0 ignored", b: nlmsg(unix.RTM_NEWLINK, 0, 0)},
		{name: "empty"},
		{name: "short header", b: []byte{1, 2, 3}, malformed: true},
		{name: "length beyond datagram", b: nlmsg(unix.RTM_NEWLINK, 5, 0)[:20], malformed: true},
		{name: "length below header", b: func() []byte {
			b := nlmsg(unix.RTM_NEWLINK, 5, 0)
			binary.NativeEndian.PutUint32(b, 8)
			return b
		}(), malformed: true},
		{name: "body too short", b: func() []byte {
			b := make([]byte, nlmsgHdrLen+4)
			binary.NativeEndian.PutUint32(b, uint32(len(b)))
			binary.NativeEndian.PutUint16(b[4:], unix.RTM_NEWADDR)
			return b
		}(), malformed: true},
		{name: "second message damaged keeps the first", b: concat(nlmsg(unix.RTM_NEWLINK, 5, 0), []byte{1, 2}),
			want: []notice{{linkChanged, -1, 5}}, malformed: true},
		{name: "short nsid", b: nlmsg(unix.RTM_NEWLINK, 5, 0), oob: cmsg(unix.SOL_NETLINK, unix.NETLINK_LISTEN_ALL_NSID, []byte{1, 2}), malformed: true},
		{name: "control data shorter than a header is no nsid", b: nlmsg(unix.RTM_NEWLINK, 5, 0), oob: []byte{1, 2, 3},
			want: []notice{{linkChanged, -1, 5}}},
		{name: "control length beyond data", b: nlmsg(unix.RTM_NEWLINK, 5, 0), oob: func() []byte {
			b := nsidCmsg(1)
			(*unix.Cmsghdr)(unsafe.Pointer(&b[0])).SetLen(64)
			return b
		}(), malformed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeNotices(nil, tc.b, tc.oob)
			if tc.malformed != errors.Is(err, errMalformed) {
				t.Errorf("error %v, want malformed=%v", err, tc.malformed)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("notices (-want +got):\n%s", d)
			}
		})
	}
}

// TestDecodeNoticesNoAlloc: decoding into a buffer with room allocates
// nothing when there are no control messages (the node's own links).
func TestDecodeNoticesNoAlloc(t *testing.T) {
	b := concat(nlmsg(unix.RTM_NEWLINK, 5, 100), nlmsg(unix.RTM_NEWADDR, 6, 0))
	buf := make([]notice, 0, 8)
	if n := testing.AllocsPerRun(100, func() { buf, _ = decodeNotices(buf[:0], b, nil) }); n != 0 {
		t.Errorf("decodeNotices allocates %v times per datagram", n)
	}
}

func FuzzDecodeNotices(f *testing.F) {
	f.Add(nlmsg(unix.RTM_NEWLINK, 5, 100), []byte(nil))
	f.Add(nlmsg(unix.RTM_NEWADDR, 2, 24), nsidCmsg(3))
	f.Add(concat(nlmsg(unix.RTM_NEWLINK, 5, 3), nlmsg(unix.RTM_DELLINK, 9, 0)), nsidCmsg(-1))
	f.Add([]byte{1, 2, 3}, []byte{4, 5, 6})
	f.Fuzz(func(t *testing.T, b, oob []byte) {
		got, err := decodeNotices(nil, b, oob)
		if err != nil && !errors.Is(err, errMalformed) {
			t.Fatalf("error %v is not marked malformed", err)
		}
		for _, n := range got {
			if n.Index <= 0 || n.Kind < linkChanged || n.Kind > addrChanged {
				t.Fatalf("impossible notice %+v", n)
			}
		}
		if len(got) > len(b)/nlmsgHdrLen {
			t.Fatalf("%d notices from %d bytes", len(got), len(b))
		}
	})
}
