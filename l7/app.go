package l7

// App is an application protocol that the engine can identify.
type App uint8

// The applications the engine identifies. Their names (String) are the
// lowercase strings used in flow JSON, policies, events and metrics.
const (
	Unknown App = iota
	HTTP
	HTTP2
	GRPC
	TLS
	DNS
	SSH
	Redis
	MySQL
	PostgreSQL
	MongoDB
	Kafka
	MQTT
	AMQP
	Memcached
	NATS
	Cassandra
	ZooKeeper
	MSSQL
	SMTP
	IMAP
	POP3
	FTP
	QUIC
	DHCP
	NTP
	numApps
)

var appNames = [numApps]string{
	Unknown:    "unknown",
	HTTP:       "http",
	HTTP2:      "http2",
	GRPC:       "grpc",
	TLS:        "tls",
	DNS:        "dns",
	SSH:        "ssh",
	Redis:      "redis",
	MySQL:      "mysql",
	PostgreSQL: "postgresql",
	MongoDB:    "mongodb",
	Kafka:      "kafka",
	MQTT:       "mqtt",
	AMQP:       "amqp",
	Memcached:  "memcached",
	NATS:       "nats",
	Cassandra:  "cassandra",
	ZooKeeper:  "zookeeper",
	MSSQL:      "mssql",
	SMTP:       "smtp",
	IMAP:       "imap",
	POP3:       "pop3",
	FTP:        "ftp",
	QUIC:       "quic",
	DHCP:       "dhcp",
	NTP:        "ntp",
}

// String returns the lowercase name of the app, e.g. "http".
func (a App) String() string {
	if a < numApps {
		return appNames[a]
	}
	return "unknown"
}

// ParseApp returns the App named name (lowercase, as String returns it).
// ok is false for a name the engine does not know.
func ParseApp(name string) (a App, ok bool) {
	for i, n := range appNames {
		if n == name {
			return App(i), true
		}
	}
	return Unknown, false
}

// Apps returns every identifiable app (Unknown excluded), in a fixed order.
func Apps() []App {
	out := make([]App, 0, numApps-1)
	for a := HTTP; a < numApps; a++ {
		out = append(out, a)
	}
	return out
}

// MarshalText implements encoding.TextMarshaler.
func (a App) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *App) UnmarshalText(b []byte) error {
	v, ok := ParseApp(string(b))
	if !ok {
		return &UnknownAppError{Name: string(b)}
	}
	*a = v
	return nil
}

// UnknownAppError reports an app name the engine does not know.
type UnknownAppError struct{ Name string }

func (e *UnknownAppError) Error() string { return "l7: unknown app " + `"` + e.Name + `"` }
