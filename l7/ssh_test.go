package l7

import "testing"

// Banners as OpenSSH 9.2 on Debian 12 sends them (a real exchange is recorded in l7/testdata/captures/ssh.pcap).
const (
	sshClientBanner = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n"
	sshServerBanner = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n"
	// The start of a binary packet (SSH_MSG_KEXINIT) after the banner.
	sshKexInit = "\x00\x00\x05\xdc\x06\x14\x8b\x0e\x1f\x00\x00\x00"
)

func TestSSHDetect(t *testing.T) {
	tests := []struct {
		in   string
		want Match
	}{
		{"", NeedMore},
		{"SS", NeedMore},
		{"SSH-2.", NeedMore},
		{"SSH-2.0-", Matched},
		{"SSH-1.99-Cisco-1.25\r\n", Matched},
		{"SSH--x", NoMatch},
		{"SSH-2.0x", NoMatch},
		{"SSH-22222222222-", NoMatch},
		{"GET / HTTP/1.1\r\n", NoMatch},
	}
	for _, tc := range tests {
		if got := detectSSH(FromClient, []byte(tc.in)); got != tc.want {
			t.Errorf("detectSSH(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestSSHParse(t *testing.T) {
	appsRunCases(t, SSH, TCP, []appsCase{{
		name:   "openssh",
		chunks: []appsChunk{srv(sshServerBanner), cli(sshClientBanner), cli(sshKexInit), srv(sshKexInit)},
		want: []string{
			`resp ssh Status=-1 Version="2.0"`,
			`req ssh Command="BANNER" UserAgent="OpenSSH_9.2p1 Debian-2+deb12u10" Version="2.0"`,
		},
		summary: `{"client":"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10","server":"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10"}`,
	}, {
		name:    "server lines before banner, no comments",
		chunks:  []appsChunk{srv("Welcome\r\nSSH-1.99-Cisco-1.25\r\n"), cli("SSH-2.0-Go\n")},
		want:    []string{`resp ssh Status=-1 Version="1.99"`, `req ssh Command="BANNER" UserAgent="Go" Version="2.0"`},
		summary: `{"client":"SSH-2.0-Go","server":"SSH-1.99-Cisco-1.25"}`,
	}, {
		name:   "client line not a banner",
		chunks: []appsChunk{cli("HELLO\r\n")},
		want:   []string{`error ssh: client identification line "HELLO" does not start with SSH-`},
	}, {
		name:   "banner too long",
		chunks: []appsChunk{cli("SSH-2.0-" + string(make([]byte, 300)))},
		want:   []string{`error ssh: client identification line longer than 255 bytes`},
	}, {
		name:   "truncated",
		chunks: []appsChunk{cli("SSH-2.0-Open")},
	}})
}

func FuzzSSH(f *testing.F) {
	appsFuzz(f, SSH, TCP, []appsChunk{srv(sshServerBanner), cli(sshClientBanner + sshKexInit)})
}
