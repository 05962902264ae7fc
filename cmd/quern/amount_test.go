package main

import (
	"strings"
	"testing"

	"github.com/holiman/uint256"
)

func TestParseQRN(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // wei, decimal
	}{
		{"1.5", "1500000000000000000"},
		{"0.001", "1000000000000000"},
		{"10", "10000000000000000000"},
		{"0", "0"},
		{"0.0", "0"},
		{".5", "500000000000000000"},
		{"5.", "5000000000000000000"},
		{"0.000000000000000001", "1"},
		{"1.100000000000000000000", "1100000000000000000"}, // trailing zeros beyond 18 are harmless
		{"007.25", "7250000000000000000"},
		{" 2 QRN", "2000000000000000000"},
		{"3qrn", "3000000000000000000"},
		{"1000000", "1000000000000000000000000"},
		// 2^256-1 wei is the largest amount there is.
		{"115792089237316195423570985008687907853269984665640564039457.584007913129639935", "115792089237316195423570985008687907853269984665640564039457584007913129639935"},
	} {
		got, err := parseQRN(tc.in)
		if err != nil {
			t.Errorf("parseQRN(%q): %v", tc.in, err)
			continue
		}
		if got.Dec() != tc.want {
			t.Errorf("parseQRN(%q) = %s wei, want %s", tc.in, got.Dec(), tc.want)
		}
	}
}

func TestParseQRNRejects(t *testing.T) {
	for _, tc := range []struct{ in, msg string }{
		{"", "want a number"},
		{"-1", "negative"},
		{"-0.5", "negative"},
		{"+1", "want a number"},
		{"1e18", "want a number"},
		{"abc", "want a number"},
		{"1.2.3", "want a number"},
		{".", "want a number"},
		{"1,5", "want a number"},
		{"0x10", "want a number"},
		{"1 000", "want a number"},
		{"0.0000000000000000001", "at most 18 decimals"},
		{"115792089237316195423570985008687907853269984665640564039457.584007913129639936", "too large"},
		{"1" + strings.Repeat("0", 80), "too large"},
		{"NaN", "want a number"},
	} {
		_, err := parseQRN(tc.in)
		if err == nil {
			t.Errorf("parseQRN(%q) accepted", tc.in)
			continue
		}
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("parseQRN(%q) error %q, want it to mention %q", tc.in, err, tc.msg)
		}
	}
}

func TestFormatQRN(t *testing.T) {
	for _, tc := range []struct{ wei, want string }{
		{"0", "0"},
		{"1", "0.000000000000000001"},
		{"500000000000000000", "0.5"},
		{"1000000000000000000", "1"},
		{"1200000000000000000", "1.2"},
		{"5001000000000000000", "5.001"},
		{"1000000000000000000000000", "1000000"},
		{"10500000000000000", "0.0105"},
	} {
		if got := formatQRN(uint256.MustFromDecimal(tc.wei)); got != tc.want {
			t.Errorf("formatQRN(%s) = %q, want %q", tc.wei, got, tc.want)
		}
	}
	if got := formatQRN(nil); got != "0" {
		t.Errorf("formatQRN(nil) = %q", got)
	}
}

func TestQRNRoundTrip(t *testing.T) {
	for _, s := range []string{"0", "1", "0.5", "123.456", "0.000000000000000001", "99999999.999999999999999999"} {
		wei, err := parseQRN(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := formatQRN(wei); got != s {
			t.Errorf("round trip %q -> %q", s, got)
		}
	}
}

func TestParseWei(t *testing.T) {
	for in, want := range map[string]string{"0": "0", "1000": "1000", "0x10": "16"} {
		got, err := parseWei(in)
		if err != nil || got.Dec() != want {
			t.Errorf("parseWei(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1.5", "x"} {
		if _, err := parseWei(in); err == nil {
			t.Errorf("parseWei(%q) accepted", in)
		}
	}
}

// FuzzParseQRN: an amount a user types never panics, and one accepted
// prints back to the same wei.
func FuzzParseQRN(f *testing.F) {
	for _, s := range []string{"1", "1.5", "0.000000000000000001", "115792089237316195423570985008687907853269984665640564039457", "-1", "1e3", "1.", ".5", " 1", "1_000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseQRN(s)
		if err != nil {
			return
		}
		back, err := parseQRN(formatQRN(v))
		if err != nil || !back.Eq(v) {
			t.Fatalf("%q = %s wei prints as %q, which reads back as %v (%v)", s, v, formatQRN(v), back, err)
		}
	})
}
