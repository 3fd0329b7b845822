package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// normalTraffic is what the shop does: the frontend calls the api's paths,
// the api reads and writes redis, resolves an allowed name and calls it.
func (b *bed) normalTraffic() error {
	var errs []error
	api := "http://" + hostPort(apiIP, 8080)
	for _, p := range []string{"/users/1", "/users/2", "/health"} {
		if _, err := curl(b.fe, api+p); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := curl(b.fe, api+"/orders", "-X", "POST", "-d", "{}"); err != nil {
		errs = append(errs, err)
	}
	if out, err := redisCLI(b.api, "SET", "k", "v"); err != nil || out != "OK" {
		errs = append(errs, fmt.Errorf("redis SET: %q %v", out, err))
	}
	if out, err := redisCLI(b.api, "GET", "k"); err != nil || out != "v" {
		errs = append(errs, fmt.Errorf("redis GET: %q %v", out, err))
	}
	ips, err := dig(b.api, "www.allowed.example")
	if err != nil || !slices.Equal(ips, []string{allowedIP.String()}) {
		errs = append(errs, fmt.Errorf("dig www.allowed.example: %q %v", ips, err))
	} else if _, err := curl(b.api, "http://"+ips[0]+"/"); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// learnHTTP is frontend → api HTTP: three requests answered 200 (two GET,
// one POST) and a GET answered 404 (a path the api does not serve), each
// on its own connection.
func (b *bed) learnHTTP() {
	t := b.t
	t.Helper()
	api := "http://" + hostPort(apiIP, 8080)
	for _, c := range []struct {
		path   string
		args   []string
		status string
	}{
		{"/users/1", nil, "200"},
		{"/health", nil, "200"},
		{"/orders", []string{"-X", "POST", "-d", "{}"}, "200"},
		{"/missing", nil, "404"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), clientTimeout+2*time.Second)
		out, err := b.fe.Command(ctx, "curl", append([]string{"-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "3", api + c.path}, c.args...)...).CombinedOutput()
		cancel()
		if err != nil || string(out) != c.status {
			t.Fatalf("curl %s from frontend: %q, %v; want status %s", c.path, out, err, c.status)
		}
	}
}
