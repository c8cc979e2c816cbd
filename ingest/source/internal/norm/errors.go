package norm

import (
	"errors"
	"fmt"

	json "github.com/goccy/go-json"
)

// DecodeError shortens a JSON decoding error to what a person fixing the
// record needs: the field and the kind of value, or the syntax error and
// its byte offset, without Go type names.
func DecodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if te.Struct != "" && field == "" {
			field = te.Struct
		}
		if field == "" {
			return fmt.Errorf("JSON %s where an object was expected", te.Value)
		}
		return fmt.Errorf("field %s: unexpected JSON %s", field, te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at byte %d: %s", se.Offset, se.Error())
	}
	return err
}
