package node

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestBlockNumberUnmarshal(t *testing.T) {
	accepted := []struct {
		in   string
		want BlockNumber
	}{
		{`0`, BlockNumber{}},
		{`12`, BlockNumber{Number: 12}},
		{`18446744073709551615`, BlockNumber{Number: 1<<64 - 1}},
		{`"0"`, BlockNumber{}},
		{`"12"`, BlockNumber{Number: 12}},
		{`"18446744073709551615"`, BlockNumber{Number: 1<<64 - 1}},
		{`"0x0"`, BlockNumber{}},
		{`"0xc"`, BlockNumber{Number: 12}},
		{`"0xC"`, BlockNumber{Number: 12}},
		{`"0XaB"`, BlockNumber{Number: 0xab}},
		{`"0xffffffffffffffff"`, BlockNumber{Number: 1<<64 - 1}},
		{`"latest"`, BlockNumber{Latest: true}},
		{`"LATEST"`, BlockNumber{Latest: true}},
		{`"pending"`, BlockNumber{Latest: true}},
		{`"earliest"`, BlockNumber{}},
		{`null`, BlockNumber{Latest: true}},
	}
	for _, tc := range accepted {
		var b BlockNumber
		if err := json.Unmarshal([]byte(tc.in), &b); err != nil {
			t.Errorf("%s: %v", tc.in, err)
		} else if b != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.in, b, tc.want)
		}
	}

	refused := []struct{ in, why string }{
		{`"012"`, "leading zero (octal is not accepted)"}, // ParseUint base 0 read block 10
		{`"00"`, "leading zero"},
		{`"0b11"`, `'b' is not a decimal digit`},
		{`"0o12"`, `'o' is not a decimal digit`},
		{`"1_000"`, `'_' is not a decimal digit`},
		{`"0x1_0"`, "invalid hex string"},
		{`"0x012"`, "hex number with leading zero digits"},
		{`"0x00"`, "hex number with leading zero digits"},
		{`"0x"`, `hex string "0x"`},
		{`"0xg"`, "invalid hex string"},
		{`"0x10000000000000000"`, "hex number > 64 bits"},
		{`"18446744073709551616"`, "above 2^64-1"},
		{`"-1"`, `'-' is not a decimal digit`},
		{`"+1"`, `'+' is not a decimal digit`},
		{`" 12"`, `' ' is not a decimal digit`},
		{`"12 "`, `' ' is not a decimal digit`},
		{`"1.5"`, `'.' is not a decimal digit`},
		{`"١٢"`, "is not a decimal digit"}, // Arabic-Indic digits
		{`""`, "empty string"},
		{`"lates"`, `'l' is not a decimal digit`},
		{`-1`, "want a JSON number"},
		{`1.5`, "want a JSON number"},
		{`1e3`, "want a JSON number"},
		{`18446744073709551616`, "want a JSON number"},
		{`true`, "want a JSON number"},
		{`[1]`, "want a JSON number"},
		{`{}`, "want a JSON number"},
	}
	for _, tc := range refused {
		var b BlockNumber
		err := json.Unmarshal([]byte(tc.in), &b)
		if err == nil {
			t.Errorf("%s: accepted as %+v", tc.in, b)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.why) || !strings.Contains(msg, "invalid block number") || !strings.Contains(msg, `"latest"`) {
			t.Errorf("%s: error %q does not say %q and the accepted forms", tc.in, msg, tc.why)
		}
	}
}
