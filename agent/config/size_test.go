package config

import "testing"

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    Size
		wantErr bool
	}{
		{"0", 0, false},
		{"16384", 16384, false},
		{"16KiB", 16 * KiB, false},
		{"16 kib", 16 * KiB, false},
		{"50MiB", 50 * MiB, false},
		{"2GiB", 2 * GiB, false},
		{"16KB", 16000, false},
		{"3mb", 3e6, false},
		{"1GB", 1e9, false},
		{"12B", 12, false},
		{"-1", -1, false},
		{"", 0, true},
		{"KiB", 0, true},
		{"1.5MiB", 0, true},
		{"16 KiBs", 0, true},
		{"9223372036854775807GiB", 0, true},
		{"0x10", 0, true},
	} {
		got, err := ParseSize(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	for _, tt := range []struct {
		in   Size
		want string
	}{{0, "0"}, {1000, "1000"}, {16 * KiB, "16KiB"}, {1536 * KiB, "1536KiB"}, {50 * MiB, "50MiB"}, {3 * GiB, "3GiB"}, {-2 * KiB, "-2KiB"}} {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "16KiB", "50 MiB", "3mb", "-1", "", "1.5GiB", "9223372036854775807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseSize(s)
		if err != nil {
			return
		}
		// Whatever parses formats to something that parses back to it.
		back, err := ParseSize(v.String())
		if err != nil || back != v {
			t.Fatalf("ParseSize(%q) = %d; String %q parses back as %d, %v", s, v, v.String(), back, err)
		}
	})
}
