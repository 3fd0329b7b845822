package e2e_test

import (
	"errors"
	"fmt"
	"slices"
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
