package rules

import (
	"net/netip"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
)

// helperNames are the functions rule expressions may call besides expr's
// built-ins.
//
//	local_hour(time, tenant) int        hour of day in the tenant's timezone
//	local_weekday(time, tenant) string  "Monday"… in the tenant's timezone
//	business_hours(time, tenant) bool   within the tenant's working hours (calendar)
//	in_list(value, "list") bool         membership of a named list
//	email_domain(email) string          the lower-cased part after the @
//	glob(s, "pattern") bool             shell-style match (path.Match)
//	regex(s, "pattern") bool            regular expression match (RE2), compiled once
//	ip_prefix(ip) string                the network of an address: /24 for IPv4, /48 for IPv6 ("" if not one)
var helperNames = []string{"local_hour", "local_weekday", "business_hours", "in_list", "email_domain", "glob", "regex", "ip_prefix"}

// helpers returns the expr options of the helper functions.
func (s *Set) helpers() []expr.Option {
	cal := &s.calendar
	return []expr.Option{
		expr.Function("local_hour", func(p ...any) (any, error) {
			return p[0].(time.Time).In(cal.hours(p[1].(string)).loc).Hour(), nil
		}, new(func(time.Time, string) int)),
		expr.Function("local_weekday", func(p ...any) (any, error) {
			return p[0].(time.Time).In(cal.hours(p[1].(string)).loc).Weekday().String(), nil
		}, new(func(time.Time, string) string)),
		expr.Function("business_hours", func(p ...any) (any, error) {
			return cal.hours(p[1].(string)).working(p[0].(time.Time)), nil
		}, new(func(time.Time, string) bool)),
		expr.Function("in_list", func(p ...any) (any, error) {
			return s.lists[p[1].(string)][p[0].(string)], nil
		}, new(func(string, string) bool)),
		expr.Function("email_domain", func(p ...any) (any, error) {
			return emailDomain(p[0].(string)), nil
		}, new(func(string) string)),
		expr.Function("glob", func(p ...any) (any, error) {
			return globMatch(p[1].(string), p[0].(string))
		}, new(func(string, string) bool)),
		expr.Function("ip_prefix", func(p ...any) (any, error) {
			return ipPrefix(p[0].(string)), nil
		}, new(func(string) string)),
		expr.Function("regex", func(p ...any) (any, error) {
			re, err := s.patterns.regexp(p[1].(string))
			if err != nil {
				return false, err
			}
			return re.MatchString(p[0].(string)), nil
		}, new(func(string, string) bool)),
	}
}

// checker is an AST visitor that validates the constant arguments of
// helpers at load: list names exist, patterns compile (and are cached).
type checker struct {
	s    *Set
	errs []nodeError
}

type nodeError struct {
	from int
	msg  string
}

func (c *checker) Visit(n *ast.Node) {
	call, ok := (*n).(*ast.CallNode)
	if !ok || len(call.Arguments) < 2 {
		return
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	if !ok {
		return
	}
	arg, ok := call.Arguments[1].(*ast.StringNode)
	if !ok {
		// Lists and patterns are named by literals, so that each is known
		// and compiled at load, and nothing an event carries becomes a
		// pattern to compile or a list to look up.
		switch id.Value {
		case "in_list":
			c.errs = append(c.errs, nodeError{call.Arguments[1].Location().From, "in_list: the list name must be a quoted string, such as \"admins\""})
		case "regex", "glob":
			c.errs = append(c.errs, nodeError{call.Arguments[1].Location().From, id.Value + ": the pattern must be a quoted string: patterns are compiled once, at load"})
		}
		return
	}
	switch id.Value {
	case "in_list":
		if _, ok := c.s.lists[arg.Value]; !ok {
			c.errs = append(c.errs, nodeError{arg.Location().From, "unknown list " + quote(arg.Value)})
		}
	case "regex":
		if _, err := c.s.patterns.regexp(arg.Value); err != nil {
			c.errs = append(c.errs, nodeError{arg.Location().From, "bad regex: " + err.Error()})
		}
	case "glob":
		if _, err := globMatch(arg.Value, ""); err != nil {
			c.errs = append(c.errs, nodeError{arg.Location().From, "bad glob " + quote(arg.Value) + ": " + err.Error()})
		}
	}
}

func quote(s string) string { return `"` + s + `"` }

// ipPrefix is the /24 of an IPv4 address or the /48 of an IPv6 one (a
// provider's egress addresses change within those), "" if ip is not an
// address.
func ipPrefix(ip string) string {
	a, err := netip.ParseAddr(strings.TrimSpace(ip))
	if err != nil {
		return ""
	}
	a = a.Unmap()
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}
