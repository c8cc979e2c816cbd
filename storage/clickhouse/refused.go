package clickhouse

import (
	"errors"
	"strings"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// Refused reports whether err is ClickHouse refusing what was sent, for
// what it is, rather than an outage: the server answered with an
// exception, and not one that says something of the server's own state
// (down, full, overloaded, read-only, misconfigured, a timeout). A refused
// batch is worth splitting to find the record that causes it; an outage
// is retried as it is, forever, since nothing is wrong with the data.
//
// Memory is both: "Memory limit (for query) exceeded" while pushing one
// insert's rows through the views is what that insert costs (one event
// with 200,000 targets), and is refused; "(total)" is the server's own
// load, and is an outage.
func Refused(err error) bool {
	var ex *ch.Exception
	if !errors.As(err, &ex) {
		return false
	}
	if ex.Code == codeMemoryLimitExceeded {
		return !strings.Contains(ex.Message, "(total)")
	}
	return !serverState[ex.Code]
}

const codeMemoryLimitExceeded = 241

// serverState are the exception codes that say something of the server,
// its schema or its connection, not of the rows of an insert.
var serverState = map[int32]bool{
	3:   true, // UNEXPECTED_END_OF_FILE
	16:  true, // NO_SUCH_COLUMN_IN_TABLE
	47:  true, // UNKNOWN_IDENTIFIER
	60:  true, // UNKNOWN_TABLE
	81:  true, // UNKNOWN_DATABASE
	159: true, // TIMEOUT_EXCEEDED
	160: true, // TOO_SLOW
	164: true, // READONLY
	192: true, // UNKNOWN_USER
	193: true, // WRONG_PASSWORD
	194: true, // REQUIRED_PASSWORD
	202: true, // TOO_MANY_SIMULTANEOUS_QUERIES
	203: true, // NO_FREE_CONNECTION
	209: true, // SOCKET_TIMEOUT
	210: true, // NETWORK_ERROR
	225: true, // NO_ZOOKEEPER
	236: true, // ABORTED
	242: true, // TABLE_IS_READ_ONLY
	243: true, // NOT_ENOUGH_SPACE
	252: true, // TOO_MANY_PARTS
	291: true, // DATABASE_ACCESS_DENIED
	319: true, // UNKNOWN_STATUS_OF_INSERT
	394: true, // QUERY_WAS_CANCELLED
	425: true, // SYSTEM_ERROR
	439: true, // CANNOT_SCHEDULE_TASK
	497: true, // ACCESS_DENIED
	516: true, // AUTHENTICATION_FAILED
	999: true, // KEEPER_EXCEPTION
}
