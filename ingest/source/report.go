package source

import (
	"fmt"
	"io"
)

// ReportReject writes FILE:LINE: reason (FILE:FIRST-LAST: for a run of
// lines) for a record that could not be read or normalized.
func ReportReject(w io.Writer, label string, line int, err error) {
	if re, ok := err.(*RecordError); ok {
		if re.EndLine > re.Line {
			fmt.Fprintf(w, "%s:%d-%d: %v\n", label, re.Line, re.EndLine, re.Err)
		} else {
			fmt.Fprintf(w, "%s:%d: %v\n", label, re.Line, re.Err)
		}
		return
	}
	fmt.Fprintf(w, "%s:%d: %v\n", label, line, err)
}
