package l7

import "testing"

// A session as curl 7.88 and vsftpd 3.0.3 have it
// (a real exchange is recorded in l7/testdata/captures/ftp.pcap).
const (
	ftpGreeting = "220 (vsFTPd 3.0.3)\r\n"
	ftpUser     = "USER anonymous\r\n"
	ftpPass     = "PASS ftp@example.com\r\n"
	ftpPwd      = "PWD\r\n"
	ftpEpsv     = "EPSV\r\n"
	ftpRetr     = "RETR pub/readme.txt\r\n"
)

func TestFTPDetect(t *testing.T) {
	tests := []struct {
		dir  Dir
		in   string
		want Match
	}{
		{FromServer, ftpGreeting, Matched},
		{FromServer, "220-Welcome to Pure-FTPd\r\n", Matched},
		{FromServer, "220 Welcome\r\n", NoMatch},
		{FromServer, smtpGreeting, NoMatch},
		{FromClient, ftpUser, Matched},
		{FromClient, "AUTH TLS\r\n", Matched},
		{FromClient, "AUTH PLAIN\r\n", NoMatch},
		{FromClient, "AUTH", NeedMore},
		{FromClient, smtpEhlo, NoMatch},
	}
	for _, tc := range tests {
		if got := detectFTP(tc.dir, []byte(tc.in)); got != tc.want {
			t.Errorf("detectFTP(%v, %q) = %v, want %v", tc.dir, tc.in, got, tc.want)
		}
	}
}

func TestFTPParse(t *testing.T) {
	appsRunCases(t, FTP, TCP, []appsCase{{
		name: "anonymous download",
		chunks: []appsChunk{srv(ftpGreeting), cli(ftpUser), srv("331 Please specify the password.\r\n"), cli(ftpPass), srv("230 Login successful.\r\n"),
			cli(ftpPwd), srv("257 \"/\" is the current directory\r\n"), cli(ftpEpsv), srv("229 Entering Extended Passive Mode (|||40001|)\r\n"),
			cli(ftpRetr), srv("150 Opening BINARY mode data connection.\r\n226 Transfer complete.\r\n")},
		want: []string{
			`resp ftp Status=220`, `req ftp Command="USER" User="anonymous"`, `resp ftp Status=331`, `req ftp Command="PASS"`, `resp ftp Status=230`,
			`req ftp Command="PWD"`, `resp ftp Status=257`, `req ftp Command="EPSV"`, `resp ftp Status=229`,
			`req ftp Command="RETR" Path="pub/readme.txt"`, `resp ftp Status=150`, `resp ftp Status=226`,
		},
		summary: `{"greeting":"220 (vsFTPd 3.0.3)","user":"anonymous","commands":["USER","PASS","PWD","EPSV","RETR"]}`,
	}, {
		name:    "auth tls and multi-line greeting",
		chunks:  []appsChunk{srv("220-Welcome\r\n to the FTP\r\n220 ready\r\n"), cli("AUTH TLS\r\n"), srv("234 Proceed with negotiation.\r\n"), cli("\x16\x03\x01\x02\x00")},
		want:    []string{`resp ftp Status=220`, `req ftp Command="AUTH"`, `resp ftp Status=234`, `note AUTH TLS`},
		summary: `{"greeting":"220-Welcome","commands":["AUTH"],"auth_tls":true}`,
	}, {
		name:   "binary command line",
		chunks: []appsChunk{cli("\x01\x02\x03\r\n")},
		want:   []string{`error ftp: command line "\x01\x02\x03" is not text`},
	}})
}

func FuzzFTP(f *testing.F) {
	appsFuzz(f, FTP, TCP, []appsChunk{srv(ftpGreeting + "331 ok\r\n230 ok\r\n"), cli(ftpUser + ftpPass + ftpPwd + ftpEpsv + ftpRetr)})
}
