//go:build captures

package l7

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bulkhead.dev/bulkhead/l7/internal/fakeservers"
	"bulkhead.dev/bulkhead/testenv"
	"github.com/go-zookeeper/zk"
	"github.com/gocql/gocql"
	mssql "github.com/microsoft/go-mssqldb"
	"github.com/nats-io/nats.go"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// The capture specs of the application parsers: each runs a real client
// against a real server (Debian packages where they exist, else a real Go
// client library against a Go server). captures_make_test.go runs them
// (TestMakeCapturesApps, build tag "captures", root, the packages of
// scripts/install-capture-deps.sh installed).

// appsStart starts a server program in h; its output goes to the test log
// when the test fails.
func appsStart(t *testing.T, ctx context.Context, h *testenv.Container, name string, args ...string) {
	t.Helper()
	appsStartCmd(t, h, exec.CommandContext(ctx, name, args...))
}

// appsStartCmd starts cmd (a server with its own environment or directory)
// in h like appsStart.
func appsStartCmd(t *testing.T, h *testenv.Container, cmd *exec.Cmd) {
	t.Helper()
	var log appsLog
	cmd.Stdout, cmd.Stderr = &log, &log
	if _, err := h.Start(cmd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(cmd.Path), log.String())
		}
	})
}

// appsLog collects a program's output, up to 64 KiB. It is read by a
// cleanup that runs while the program (stopped later, when the node
// closes) may still write: testenv.Buffer holds the lock.
type appsLog struct{ testenv.Buffer }

func (l *appsLog) Write(b []byte) (int, error) {
	if l.Len() > 64<<10 {
		return len(b), nil
	}
	return l.Buffer.Write(b)
}

// appsWrite writes a file under dir.
func appsWrite(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func appsCaptureSpecs() []captureSpec {
	return []captureSpec{
		{
			name: "redis", filter: "tcp port 6379",
			server: func(t *testing.T, ctx context.Context, s *testenv.Container, dir string) {
				appsStart(t, ctx, s, "redis-server", "--bind", "0.0.0.0", "--port", "6379", "--protected-mode", "no",
					"--save", "", "--appendonly", "no", "--dir", dir)
				captureWaitTCP(t, s, 6379)
			},
			client: func(t *testing.T, ctx context.Context, c *testenv.Container, ip netip.Addr, dir string) {
				// One connection per command: redis-cli reading commands
				// from stdin first fetches COMMAND DOCS (170 KB).
				for _, cmd := range [][]string{{"SET", "user:100", "alice"}, {"GET", "user:100"}, {"INCR", "visits"}} {
					captureRun(t, ctx, c, false, "redis-cli", append([]string{"-h", ip.String()}, cmd...)...)
				}
			},
		},
		{
			name: "ssh", filter: "tcp port 22",
			server: func(t *testing.T, ctx context.Context, s *testenv.Container, dir string) {
				if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
					t.Fatal(err)
				}
				key := filepath.Join(dir, "hostkey")
				captureRun(t, ctx, s, false, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key)
				conf := appsWrite(t, dir, "sshd_config", "Port 22\nListenAddress 0.0.0.0\nHostKey "+key+
					"\nPidFile "+filepath.Join(dir, "sshd.pid")+"\nUsePAM no\nPasswordAuthentication no\n", 0o600)
				appsStart(t, ctx, s, "/usr/sbin/sshd", "-D", "-e", "-f", conf)
				captureWaitTCP(t, s, 22)
			},
			client: func(t *testing.T, ctx context.Context, c *testenv.Container, ip netip.Addr, dir string) {
				// Authentication fails (no key): the banners and key
				// exchange are what the capture needs.
				captureRun(t, ctx, c, true, "ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
					"-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-o", "IdentityFile=/dev/null",
					"nobody@"+ip.String(), "true")
			},
		},
		{
			name: "memcached", filter: "tcp port 11211",
			server: appsMemcachedServer,
			client: func(t *testing.T, ctx context.Context, c *testenv.Container, ip netip.Addr, dir string) {
				f := appsWrite(t, dir, "session42", `{"user":42}`, 0o644)
				srv := "--servers=" + ip.String() + ":11211"
				captureRun(t, ctx, c, false, "memccp", srv, f)
				captureRun(t, ctx, c, false, "memccat", srv, "session42")
			},
		},
		{
			name: "memcached-binary", filter: "tcp port 11211",
			server: appsMemcachedServer,
			client: func(t *testing.T, ctx context.Context, c *testenv.Container, ip netip.Addr, dir string) {
				captureRun(t, ctx, c, false, "memcstat", "--binary", "--servers="+ip.String()+":11211")
			},
		},
		{
			name: "mqtt", filter: "tcp port 1883",
			server: func(t *testing.T, ctx context.Context, s *testenv.Container, dir string) {
				conf := appsWrite(t, dir, "mosquitto.conf", "listener 1883 0.0.0.0\nallow_anonymous true\n", 0o644)
				appsStart(t, ctx, s, "mosquitto", "-c", conf)
				captureWaitTCP(t, s, 1883)
			},
			client: func(t *testing.T, ctx context.Context, c *testenv.Container, ip netip.Addr, dir string) {
				// A 3.1.1 subscriber waits for one message from a 5.0
				// publisher.
				sub := exec.CommandContext(ctx, "mosquitto_sub", "-h", ip.String(), "-V", "mqttv311", "-i", "dashboard-1",
					"-u", "iot", "-P", "secret", "-t", "plant/+/temp", "-t", "alerts/#", "-C", "1", "-W", "20")
				p, err := c.Start(sub)
				if err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Second)
				captureRun(t, ctx, c, false, "mosquitto_pub", "-h", ip.String(), "-V", "mqttv5", "-i", "sensor-7",
					"-t", "plant/line1/temp", "-m", "21.5")
				if err := p.Wait(); err != nil {
					t.Fatalf("mosquitto_sub: %v", err)
				}
			},
		},
		{
			name: "postgresql", filter: "tcp port 5432",
			server: func(t *testing.T, ctx context.Context, s *testenv.Container, dir string) {
				bin := "/usr/lib/postgresql/15/bin/"
				data := filepath.Join(dir, "data")
				captureRun(t, ctx, s, false, "chown", "postgres:postgres", dir)
				captureRun(t, ctx, s, false, "runuser", "-u", "postgres", "--", bin+"initdb", "-D", data, "-U", "postgres", "--auth=trust")
				captureRun(t, ctx, s, false, "sh", "-c", "echo 'host all all 0.0.0.0/0 trust' >> "+filepath.Join(data, "pg_hba.conf"))
				appsStart(t, ctx, s, "runuser", "-u", "postgres", "--", bin+"postgres", "-D", data,
					"-c", "listen_addresses=*", "-c", "unix_socket_directories="+dir)
				captureWaitTCP(t, s, 5432)
			},
			client: func(t *testing.T, ctx context.Context, c *testenv.Container, ip netip.Addr, dir string) {
				captureRun(t, ctx, c, false, "psql", "host="+ip.String()+" user=postgres dbname=postgres sslmode=prefer application_name=psql",
					"-c", "CREATE TABLE items (id int)", "-c", "INSERT INTO items VALUES (1)", "-c", "SELECT count(*) FROM items")
			},
		},
		{
			name: "mysql", filter: "tcp port 3306",
			server: func(t *testing.T, ctx context.Context, s *testenv.Container, dir string) {
				data := filepath.Join(dir, "data")
				captureRun(t, ctx, s, false, "mariadb-install-db", "--user=root", "--datadir="+data, "--skip-test-db",
					"--auth-root-authentication-method=normal")
				appsStart(t, ctx, s, "mariadbd", "--user=root", "--datadir="+data, "--socket="+filepath.Join(dir, "sock"),
					"--bind-address=0.0.0.0", "--port=3306", "--skip-grant-tables", "--pid-file="+filepath.Join(dir, "pid"),
					"--skip-log-error")
				captureWaitTCP(t, s, 3306)
			},
			client: func(t *testing.T, ctx context.Context, c *testenv.Container, ip netip.Addr, dir string) {
				captureRun(t, ctx, c, false, "mariadb", "-h", ip.String(), "-P", "3306", "-u", "shop", "-D", "mysql", "--skip-ssl",
					"-e", "SELECT 1; USE information_schema; SELECT COUNT(*) FROM TABLES; INSERT INTO nosuch VALUES (1)", "--force")
			},
		},
		{
			name: "smtp", filter: "tcp port 25",
			server: func(t *testing.T, ctx context.Context, s *testenv.Container, dir string) {
				if err := os.MkdirAll("/var/spool/smtpd", 0o711); err != nil {
					t.Fatal(err)
				}
				conf := appsWrite(t, dir, "smtpd.conf", "listen on eth0 port 25 hostname mail.shop.test\n"+
					"action \"relay\" relay\nmatch from any for any action \"relay\"\n", 0o644)
				appsStart(t, ctx, s, "smtpd", "-d", "-f", conf)
				captureWaitTCP(t, s, 25)
			},
			client: func(t *testing.T, ctx context.Context, c *testenv.Container, ip netip.Addr, dir string) {
				msg := appsWrite(t, dir, "mail.txt", "From: app@shop.test\r\nTo: ops@shop.test\r\nSubject: order 42\r\n\r\nOrder 42 shipped.\r\n", 0o644)
				captureRun(t, ctx, c, false, "curl", "-sS", "smtp://"+ip.String(), "--mail-from", "app@shop.test",
					"--mail-rcpt", "ops@shop.test", "-T", msg)
			},
		},
		appsDovecotCurl("imap", 143, "imap://{ip}/INBOX;UID=1"),
		appsDovecotCurl("imap-starttls", 143, "--ssl-reqd", "-k", "imap://{ip}/"),
		appsDovecotCurl("pop3", 110, "pop3://{ip}/1"),
		appsDovecotCurl("pop3-stls", 110, "--ssl-reqd", "-k", "pop3://{ip}/"),
		{
			name: "ftp", filter: "tcp port 21",
			server: func(t *testing.T, ctx context.Context, s *testenv.Container, dir string) {
				root := filepath.Join(dir, "ftp")
				appsWrite(t, root, "pub/readme.txt", "hello from ftp\n", 0o644)
				conf := appsWrite(t, dir, "vsftpd.conf", "listen=YES\nlisten_ipv6=NO\nbackground=NO\nanonymous_enable=YES\n"+
					"local_enable=NO\nwrite_enable=NO\nanon_root="+root+"\nsecure_chroot_dir=/var/run/vsftpd/empty\n"+
					"seccomp_sandbox=NO\npasv_enable=YES\npasv_min_port=40000\npasv_max_port=40010\n", 0o600)
				appsStart(t, ctx, s, "vsftpd", conf)
				captureWaitTCP(t, s, 21)
			},
			client: func(t *testing.T, ctx context.Context, c *testenv.Container, ip netip.Addr, dir string) {
				captureRun(t, ctx, c, false, "curl", "-sS", "ftp://"+ip.String()+"/pub/readme.txt", "-o", "/dev/null")
			},
		},
		{
			name: "dhcp", filter: "udp port 67 or udp port 68",
			server: func(t *testing.T, ctx context.Context, s *testenv.Container, dir string) {
				appsStart(t, ctx, s, "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--port=0",
					"--interface=eth0", "--bind-interfaces", "--dhcp-range=198.18.0.100,198.18.0.150,255.255.255.0,1h",
					"--dhcp-authoritative", "--dhcp-leasefile="+filepath.Join(dir, "leases"), "--user=root",
					"--pid-file="+filepath.Join(dir, "pid"))
				time.Sleep(time.Second)
			},
			client: func(t *testing.T, ctx context.Context, c *testenv.Container, ip netip.Addr, dir string) {
				// -s /bin/true: take the lease without reconfiguring eth0.
				captureRun(t, ctx, c, false, "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "5", "-x", "hostname:web-1", "-s", "/bin/true")
			},
		},
		{
			name: "nats", filter: "tcp port 4222",
			server: func(t *testing.T, ctx context.Context, s *testenv.Container, dir string) {
				conf := appsWrite(t, dir, "nats.conf", "listen: 0.0.0.0:4222\nserver_name: nats-1\n"+
					"authorization { users = [ { user: svc, password: secret } ] }\n", 0o644)
				appsStart(t, ctx, s, "nats-server", "-c", conf)
				captureWaitTCP(t, s, 4222)
			},
			client: func(t *testing.T, ctx context.Context, c *testenv.Container, ip netip.Addr, dir string) {
				nc, err := nats.Connect("nats://"+ip.String()+":4222", nats.Name("billing"), nats.UserInfo("svc", "secret"),
					nats.SetCustomDialer(c), nats.NoReconnect())
				if err != nil {
					t.Fatal(err)
				}
				defer nc.Close()
				sub, err := nc.SubscribeSync("orders.*")
				if err != nil {
					t.Fatal(err)
				}
				if err := nc.Publish("orders.created", []byte(`{"id":42}`)); err != nil {
					t.Fatal(err)
				}
				if _, err := sub.NextMsg(5 * time.Second); err != nil {
					t.Fatal(err)
				}
				if err := sub.Unsubscribe(); err != nil {
					t.Fatal(err)
				}
				if err := nc.Flush(); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "amqp", filter: "tcp port 5672",
			server: func(t *testing.T, ctx context.Context, s *testenv.Container, dir string) {
				// RabbitMQ (Erlang) with its state in dir, run as root
				// without Debian's su wrapper, and epmd in the foreground,
				// so that closing the container stops every process.
				conf := appsWrite(t, dir, "rabbitmq.conf", "listeners.tcp.default = 5672\nloopback_users = none\n", 0o644)
				appsStart(t, ctx, s, "epmd")
				cmd := exec.CommandContext(ctx, "/usr/lib/rabbitmq/bin/rabbitmq-server")
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
					"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"), "RABBITMQ_CONFIG_FILE="+strings.TrimSuffix(conf, ".conf"),
					"RABBITMQ_NODENAME=rabbit@localhost", "RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(dir, "plugins"),
					"ERL_CRASH_DUMP="+filepath.Join(dir, "erl_crash.dump"), "HOME="+dir)
				appsStartCmd(t, s, cmd)
				captureWaitTCP(t, s, 5672)
			},
			client: func(t *testing.T, ctx context.Context, c *testenv.Container, ip netip.Addr, dir string) {
				conn, err := amqp.DialConfig("amqp://guest:guest@"+ip.String()+":5672/", amqp.Config{
					Dial: func(network, addr string) (net.Conn, error) { return c.Dial(network, addr) },
				})
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				ch, err := conn.Channel()
				if err != nil {
					t.Fatal(err)
				}
				if err := ch.ExchangeDeclare("events", "topic", false, true, false, false, nil); err != nil {
					t.Fatal(err)
				}
				q, err := ch.QueueDeclare("jobs", false, true, false, false, nil)
				if err != nil {
					t.Fatal(err)
				}
				if err := ch.QueueBind(q.Name, "order.*", "events", false, nil); err != nil {
					t.Fatal(err)
				}
				if err := ch.PublishWithContext(ctx, "events", "order.created", false, false,
					amqp.Publishing{ContentType: "application/json", Body: []byte(`{"id":42}`)}); err != nil {
					t.Fatal(err)
				}
				if _, ok, err := ch.Get(q.Name, true); err != nil || !ok {
					t.Fatalf("basic.get: ok %v, err %v", ok, err)
				}
				if err := ch.Close(); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			// Kafka has no Debian server: franz-go's kfake cluster, a Go
			// implementation of the broker protocol, serves a real client.
			name: "kafka", filter: "tcp port 9092",
			server: func(t *testing.T, ctx context.Context, s *testenv.Container, dir string) {
				c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(9092), kfake.SeedTopics(1, "orders", "audit"),
					kfake.ListenFn(func(network, _ string) (net.Listener, error) {
						return s.Listen(network, net.JoinHostPort(s.IP4.String(), "9092"))
					}))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(c.Close)
			},
			client: func(t *testing.T, ctx context.Context, c *testenv.Container, ip netip.Addr, dir string) {
				cl, err := kgo.NewClient(kgo.SeedBrokers(net.JoinHostPort(ip.String(), "9092")), kgo.ClientID("billing"),
					kgo.Dialer(func(ctx context.Context, network, host string) (net.Conn, error) {
						return c.DialContext(ctx, network, host)
					}),
					kgo.ConsumeTopics("orders"), kgo.FetchMaxWait(500*time.Millisecond))
				if err != nil {
					t.Fatal(err)
				}
				defer cl.Close()
				recs := []*kgo.Record{{Topic: "orders", Value: []byte(`{"id":42}`)}, {Topic: "audit", Value: []byte("order 42 created")}}
				if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
					t.Fatal(err)
				}
				// A topic made with CreateTopics v7, whose response names
				// the new topic id, then a Produce v13 to it by id.
				create := kmsg.NewPtrCreateTopicsRequest()
				topic := kmsg.NewCreateTopicsRequestTopic()
				topic.Topic, topic.NumPartitions, topic.ReplicationFactor = "payments", 1, 1
				create.Topics = append(create.Topics, topic)
				created, err := create.RequestWith(ctx, cl)
				if err != nil {
					t.Fatal(err)
				}
				if len(created.Topics) != 1 || created.Topics[0].ErrorCode != 0 {
					t.Fatalf("create topic payments: %+v", created.Topics)
				}
				if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "payments", Value: []byte("42.00 EUR")}).FirstErr(); err != nil {
					t.Fatal(err)
				}
				pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				fetches := cl.PollFetches(pctx)
				if errs := fetches.Errors(); len(errs) > 0 {
					t.Fatalf("fetch: %v", errs)
				}
				if fetches.NumRecords() == 0 {
					t.Fatal("fetch returned no record")
				}
			},
		},
		{
			// MongoDB has no Debian server: the official Go driver talks to
			// a minimal Go server that answers its handshake and commands.
			name: "mongodb", filter: "tcp port 27017",
			server: func(t *testing.T, ctx context.Context, s *testenv.Container, dir string) {
				appsServeGo(t, s, 27017, fakeservers.MongoDB)
			},
			client: func(t *testing.T, ctx context.Context, c *testenv.Container, ip netip.Addr, dir string) {
				opts := options.Client().ApplyURI("mongodb://" + net.JoinHostPort(ip.String(), "27017") + "/?directConnection=true").
					SetDialer(appsDialer{c}).SetAppName("billing")
				cl, err := mongo.Connect(opts)
				if err != nil {
					t.Fatal(err)
				}
				defer cl.Disconnect(context.Background())
				coll := cl.Database("shop").Collection("orders")
				if _, err := coll.InsertOne(ctx, bson.D{{Key: "id", Value: 42}}); err != nil {
					t.Fatal(err)
				}
				cur, err := coll.Find(ctx, bson.D{{Key: "id", Value: 42}})
				if err != nil {
					t.Fatal(err)
				}
				cur.Close(ctx)
			},
		},
		{
			name: "zookeeper", filter: "tcp port 2181",
			server: func(t *testing.T, ctx context.Context, s *testenv.Container, dir string) {
				conf := appsWrite(t, dir, "zoo.cfg", "tickTime=2000\ndataDir="+filepath.Join(dir, "data")+
					"\nclientPort=2181\nadmin.enableServer=false\n4lw.commands.whitelist=ruok,mntr\n", 0o644)
				cmd := exec.CommandContext(ctx, "/usr/share/zookeeper/bin/zkServer.sh", "start-foreground", conf)
				cmd.Env = append(os.Environ(), "ZOO_LOG_DIR="+dir, "ZOO_LOG4J_PROP=WARN,CONSOLE")
				appsStartCmd(t, s, cmd)
				// The port opens before the server serves: wait for "imok".
				deadline := time.Now().Add(60 * time.Second)
				for {
					if conn, err := s.Dial("tcp", net.JoinHostPort(s.IP4.String(), "2181")); err == nil {
						conn.SetDeadline(time.Now().Add(2 * time.Second))
						conn.Write([]byte("ruok"))
						buf := make([]byte, 4)
						n, _ := io.ReadFull(conn, buf)
						conn.Close()
						if string(buf[:n]) == "imok" {
							break
						}
					}
					if time.Now().After(deadline) {
						t.Fatal("zookeeper never answered imok")
					}
					time.Sleep(500 * time.Millisecond)
				}
			},
			client: func(t *testing.T, ctx context.Context, c *testenv.Container, ip netip.Addr, dir string) {
				conn, _, err := zk.Connect([]string{net.JoinHostPort(ip.String(), "2181")}, 10*time.Second,
					zk.WithDialer(func(network, addr string, timeout time.Duration) (net.Conn, error) {
						ctx, cancel := context.WithTimeout(context.Background(), timeout)
						defer cancel()
						return c.DialContext(ctx, network, addr)
					}), zk.WithLogInfo(false))
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				if _, err := conn.Create("/config", []byte("v1"), 0, zk.WorldACL(zk.PermAll)); err != nil {
					t.Fatal(err)
				}
				if _, _, err := conn.Get("/config"); err != nil {
					t.Fatal(err)
				}
				if _, _, err := conn.Get("/missing"); err != zk.ErrNoNode {
					t.Fatalf("get /missing: %v, want ErrNoNode", err)
				}
				if _, _, err := conn.Children("/"); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			// SQL Server has no Debian package: go-mssqldb with encryption
			// disabled sends PRELOGIN and a clear LOGIN7 to a minimal Go
			// responder, which refuses the login.
			name: "mssql", filter: "tcp port 1433",
			server: func(t *testing.T, ctx context.Context, s *testenv.Container, dir string) {
				appsServeGo(t, s, 1433, fakeservers.MSSQL)
			},
			client: func(t *testing.T, ctx context.Context, c *testenv.Container, ip netip.Addr, dir string) {
				conn, err := mssql.NewConnector("sqlserver://sa:Secret-42@" + net.JoinHostPort(ip.String(), "1433") +
					"?database=inventory&encrypt=disable&app+name=billing")
				if err != nil {
					t.Fatal(err)
				}
				conn.Dialer = appsDialer{c}
				db := sql.OpenDB(conn)
				defer db.Close()
				if err := db.PingContext(ctx); err == nil || !strings.Contains(err.Error(), "Login failed") {
					t.Fatalf("ping: %v, want the responder's login failure", err)
				}
			},
		},
		{
			// Cassandra has no Debian package: gocql talks to a minimal Go
			// CQL v4 server that answers every query with an empty result,
			// so the session cannot find its host and fails after the
			// handshake and the first queries, which is what is recorded.
			name: "cassandra", filter: "tcp port 9042",
			server: func(t *testing.T, ctx context.Context, s *testenv.Container, dir string) {
				appsServeGo(t, s, 9042, fakeservers.Cassandra)
			},
			client: func(t *testing.T, ctx context.Context, c *testenv.Container, ip netip.Addr, dir string) {
				cluster := gocql.NewCluster(ip.String())
				cluster.ProtoVersion = 4
				cluster.Dialer = appsDialer{c}
				cluster.DisableInitialHostLookup = true
				cluster.Timeout = 3 * time.Second
				cluster.ConnectTimeout = 3 * time.Second
				cluster.NumConns = 1
				session, err := cluster.CreateSession()
				if err != nil {
					t.Logf("gocql session (expected to fail against the minimal server): %v", err)
					return
				}
				defer session.Close()
				if err := session.Query("SELECT id FROM shop.items LIMIT 1").WithContext(ctx).Exec(); err != nil {
					t.Logf("query: %v", err)
				}
			},
		},
		{
			name: "ntp", filter: "udp port 123",
			server: func(t *testing.T, ctx context.Context, s *testenv.Container, dir string) {
				conf := appsWrite(t, dir, "chrony.conf", "allow all\nlocal stratum 8\nport 123\ncmdport 0\n"+
					"pidfile "+filepath.Join(dir, "chronyd.pid")+"\ndriftfile "+filepath.Join(dir, "drift")+"\n", 0o644)
				// -x: never touch the machine's clock.
				appsStart(t, ctx, s, "chronyd", "-x", "-d", "-u", "root", "-f", conf)
				time.Sleep(time.Second)
			},
			client: func(t *testing.T, ctx context.Context, c *testenv.Container, ip netip.Addr, dir string) {
				captureRun(t, ctx, c, false, "ntpdate", "-q", ip.String())
			},
		},
	}
}

// appsDialer dials from a container (the MongoDB driver's Dialer).
type appsDialer struct{ c *testenv.Container }

func (d appsDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return d.c.DialContext(ctx, network, addr)
}

// appsServeGo runs a Go server from fakeservers in s on port.
func appsServeGo(t *testing.T, s *testenv.Container, port int, serve func(net.Listener) error) {
	ln, err := s.Listen("tcp", net.JoinHostPort(s.IP4.String(), fmt.Sprint(port)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serve(ln) }()
	t.Cleanup(func() {
		ln.Close()
		if err := <-done; err != nil {
			t.Errorf("server on port %d: %v", port, err)
		}
	})
}

func appsMemcachedServer(t *testing.T, ctx context.Context, s *testenv.Container, dir string) {
	appsStart(t, ctx, s, "memcached", "-u", "root", "-l", "0.0.0.0", "-p", "11211", "-U", "0")
	captureWaitTCP(t, s, 11211)
}

// appsDovecotCurl is a capture of curl logged in as alice to Dovecot on
// port; "{ip}" in args stands for the server's address.
func appsDovecotCurl(name string, port int, args ...string) captureSpec {
	return captureSpec{
		name: name, filter: fmt.Sprintf("tcp port %d", port),
		server: appsDovecot,
		client: func(t *testing.T, ctx context.Context, c *testenv.Container, ip netip.Addr, dir string) {
			argv := []string{"-sS", "-u", "alice:secret"}
			for _, a := range args {
				argv = append(argv, strings.ReplaceAll(a, "{ip}", ip.String()))
			}
			captureRun(t, ctx, c, false, "curl", argv...)
		},
	}
}

// appsDovecot runs Dovecot with IMAP and POP3, one user alice:secret and
// one message in her INBOX, and STARTTLS with Debian's snake-oil
// certificate.
func appsDovecot(t *testing.T, ctx context.Context, s *testenv.Container, dir string) {
	home := filepath.Join(dir, "home")
	msg := "From: app@shop.test\r\nTo: alice@shop.test\r\nSubject: order 42\r\n\r\nOrder 42 shipped.\r\n"
	appsWrite(t, home, "alice/Maildir/new/1700000000.M1P1.test", msg, 0o644)
	for _, d := range []string{"alice/Maildir/cur", "alice/Maildir/tmp"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o777); err != nil {
			t.Fatal(err)
		}
	}
	captureRun(t, ctx, s, false, "chown", "-R", "nobody:nogroup", home)
	passwd := appsWrite(t, dir, "passwd", "alice:{PLAIN}secret::::::\n", 0o644)
	conf := appsWrite(t, dir, "dovecot.conf", strings.Join([]string{
		"protocols = imap pop3",
		"listen = *",
		"base_dir = " + filepath.Join(dir, "run"),
		"log_path = /dev/stderr",
		"ssl = yes",
		"ssl_cert = </etc/dovecot/private/dovecot.pem",
		"ssl_key = </etc/dovecot/private/dovecot.key",
		"disable_plaintext_auth = no",
		"auth_mechanisms = plain login",
		"passdb {\n  driver = passwd-file\n  args = " + passwd + "\n}",
		"userdb {\n  driver = static\n  args = uid=nobody gid=nogroup home=" + home + "/%u\n}",
		"mail_location = maildir:~/Maildir",
		"",
	}, "\n"), 0o644)
	appsStart(t, ctx, s, "dovecot", "-F", "-c", conf)
	captureWaitTCP(t, s, 143)
	captureWaitTCP(t, s, 110)
}
