package norm

import (
	"bytes"
	"strconv"
)

// FlexString decodes any JSON scalar as text: sources put numbers and
// booleans where their documentation says string ("threatSuspected":
// false, "status": "200"). Objects and arrays are kept as compact JSON.
type FlexString string

// UnmarshalJSON implements json.Unmarshaler.
func (f *FlexString) UnmarshalJSON(b []byte) error {
	*f = FlexString(Text(b))
	return nil
}

// FlexInt decodes a JSON number or a numeric string ("200") as an int. Any
// other value decodes as 0.
type FlexInt int

// UnmarshalJSON implements json.Unmarshaler.
func (f *FlexInt) UnmarshalJSON(b []byte) error {
	b = bytes.Trim(bytes.TrimSpace(b), `"`)
	n, err := strconv.ParseFloat(string(b), 64)
	if err != nil || n != n || n > 1<<31 || n < -(1<<31) {
		*f = 0
		return nil
	}
	*f = FlexInt(n)
	return nil
}
