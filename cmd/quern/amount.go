package main

import (
	"fmt"
	"strings"

	"github.com/holiman/uint256"
)

// qrnDecimals is the number of decimal places of one QRN (1 QRN = 10^18 wei).
const qrnDecimals = 18

// parseQRN parses a decimal QRN amount ("1.5", "0.001", "10", ".5", an
// optional " QRN" suffix) into wei, exactly: no floating point, at most 18
// decimals, no sign, no exponent, nothing above 2^256-1 wei.
func parseQRN(s string) (*uint256.Int, error) {
	in := s
	s = strings.TrimSpace(s)
	if len(s) >= 3 && strings.EqualFold(s[len(s)-3:], "qrn") {
		s = strings.TrimSpace(s[:len(s)-3])
	}
	if s == "" {
		return nil, fmt.Errorf("bad amount %q: want a number of QRN such as 1.5", in)
	}
	if s[0] == '-' {
		return nil, fmt.Errorf("bad amount %q: amounts cannot be negative", in)
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" && frac == "" {
		return nil, fmt.Errorf("bad amount %q: want a number of QRN such as 1.5", in)
	}
	for _, part := range []string{whole, frac} {
		for _, c := range part {
			if c < '0' || c > '9' {
				return nil, fmt.Errorf("bad amount %q: want a number of QRN such as 1.5", in)
			}
		}
	}
	if hasDot && strings.Contains(frac, ".") {
		return nil, fmt.Errorf("bad amount %q: want a number of QRN such as 1.5", in)
	}
	frac = strings.TrimRight(frac, "0")
	if len(frac) > qrnDecimals {
		return nil, fmt.Errorf("bad amount %q: at most %d decimals (1 wei = 0.000000000000000001 QRN)", in, qrnDecimals)
	}
	digits := strings.TrimLeft(whole+frac+strings.Repeat("0", qrnDecimals-len(frac)), "0")
	if digits == "" {
		return new(uint256.Int), nil
	}
	wei, err := uint256.FromDecimal(digits)
	if err != nil {
		return nil, fmt.Errorf("bad amount %q: too large", in)
	}
	return wei, nil
}

// formatQRN renders wei as a QRN decimal with trailing zeros trimmed:
// 10^24 wei is "1000000", 5·10^17 wei is "0.5", 0 is "0".
func formatQRN(wei *uint256.Int) string {
	if wei == nil {
		return "0"
	}
	s := wei.Dec()
	if len(s) <= qrnDecimals {
		s = strings.Repeat("0", qrnDecimals-len(s)+1) + s
	}
	whole, frac := s[:len(s)-qrnDecimals], strings.TrimRight(s[len(s)-qrnDecimals:], "0")
	if frac == "" {
		return whole
	}
	return whole + "." + frac
}

// parseWei reads an amount in wei as the node sends it: a decimal string
// (the contract), or 0x-hex, which some clients use for big numbers.
func parseWei(s string) (*uint256.Int, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		v, err := uint256.FromHex(s)
		if err != nil {
			return nil, fmt.Errorf("bad wei amount %q from node: %v", s, err)
		}
		return v, nil
	}
	v, err := uint256.FromDecimal(s)
	if err != nil || s == "" {
		return nil, fmt.Errorf("bad wei amount %q from node", s)
	}
	return v, nil
}
