package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// The command line's one convention, applied by the helpers in this file
// so that no subcommand picks its own:
//
//   - help asked for (-h, --help, "vigil help TOPIC"): usage on stdout, exit 0;
//   - a usage error (unknown flag or command, bad or missing argument, a
//     number out of range): "vigil: MESSAGE" and the usage on stderr, exit 2;
//   - a failure while doing the work: "vigil: MESSAGE" on stderr, exit 1.

// errHelpShown reports that help was asked for and printed: nothing more
// to do, and no failure.
var errHelpShown = errors.New("help shown")

// usageError is a mistake in the command line. The message and the usage
// of the command it was made in go to stderr, and the exit status is 2.
type usageError struct {
	msg   string
	usage func(io.Writer)
}

func (e *usageError) Error() string { return e.msg }

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// Exec runs the command line args and reports its outcome under the
// convention above: it prints the error, if any, on m.Stderr and returns
// the exit status.
func (m *Main) Exec(ctx context.Context, args []string) int {
	err := m.Run(ctx, args)
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, errHelpShown):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(m.Stderr, "vigil: %s\n", ue.msg)
		if ue.usage != nil {
			fmt.Fprintln(m.Stderr)
			ue.usage(m.Stderr)
		}
		return exitUsage
	case errors.Is(err, errSilent):
		return exitFailure
	}
	fmt.Fprintf(m.Stderr, "vigil: %s\n", errorText(err))
	return exitFailure
}

// flagSet is a command's flags with its usage text, parsed under the
// convention above. Every numeric flag has a range: the one given with
// limit, else "not negative", checked as the flag is parsed.
type flagSet struct {
	*flag.FlagSet
	m *Main
	// text is the synopsis and description printed before the flags.
	text   string
	limits map[string]numRange
}

// newFlagSet returns an empty flagSet for the command name ("vigil hash")
// whose usage starts with text.
func (m *Main) newFlagSet(name, text string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// The flag package's own printing would put help on stderr and print
	// the usage twice on errors; Exec and parse print instead.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, m: m, text: text, limits: map[string]numRange{}}
}

// printUsage writes the usage text and the flags to w.
func (f *flagSet) printUsage(w io.Writer) {
	fmt.Fprintln(w, strings.TrimRight(f.text, "\n"))
	n := 0
	f.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprintln(w, "\nFlags:")
	f.SetOutput(w)
	f.PrintDefaults()
	f.SetOutput(io.Discard)
}

// usageErrorf returns a usage error in this command.
func (f *flagSet) usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...), usage: f.printUsage}
}

// parse parses args. Help asked for is printed on stdout and returns
// errHelpShown; an unknown flag, a malformed value or a number out of its
// range is a usage error.
func (f *flagSet) parse(args []string) error {
	if f.m.onParse != nil {
		f.m.onParse(f)
	}
	// Checked only while parsing: PrintDefaults names a flag's type from
	// its Value's own type.
	var restore []func()
	f.VisitAll(func(fl *flag.Flag) {
		if _, ok := numericValue(fl.Value); ok {
			r, has := f.limits[fl.Name]
			if !has {
				r = atLeast(0)
			}
			orig := fl.Value
			fl.Value = &checkedValue{Value: orig, r: r}
			restore = append(restore, func() { fl.Value = orig })
		}
	})
	err := f.FlagSet.Parse(args)
	for _, r := range restore {
		r()
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		f.printUsage(f.m.Stdout)
		return errHelpShown
	}
	return f.usageErrorf("%s", err)
}

// limit sets the range of the numeric flag name, in place of the default
// "not negative". Call it before parse.
func (f *flagSet) limit(name string, r numRange) {
	if f.Lookup(name) == nil {
		panic("limit of undefined flag -" + name)
	}
	f.limits[name] = r
}

// numRange is the inclusive range of a numeric flag's values.
type numRange struct {
	min, max float64
	// positive excludes min (which is then 0).
	positive bool
}

func atLeast(min float64) numRange      { return numRange{min: min, max: math.Inf(1)} }
func between(min, max float64) numRange { return numRange{min: min, max: max} }

// positive is the range of counts, sizes and periods for which 0 means
// nothing useful.
func positive() numRange { return numRange{max: math.Inf(1), positive: true} }

func (r numRange) contains(v float64) bool {
	if math.IsNaN(v) || v < r.min || v > r.max {
		return false
	}
	return !r.positive || v > 0
}

// describe says what the range allows, in the unit of value v's type.
func (r numRange) describe(v any) string {
	format := func(x float64) string {
		if _, ok := v.(time.Duration); ok {
			return time.Duration(x).String()
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	_, isFloat := v.(float64)
	_, isDuration := v.(time.Duration)
	switch {
	case r.positive && math.IsInf(r.max, 1) && !isFloat && !isDuration:
		return "must be at least 1"
	case r.positive && math.IsInf(r.max, 1):
		return "must be more than " + format(0)
	case math.IsInf(r.max, 1):
		return "must be at least " + format(r.min)
	}
	return fmt.Sprintf("must be between %s and %s", format(r.min), format(r.max))
}

// numericValue returns a numeric flag value as a float64 (durations in
// nanoseconds).
func numericValue(v flag.Value) (float64, bool) {
	g, ok := v.(flag.Getter)
	if !ok {
		return 0, false
	}
	switch x := g.Get().(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	case time.Duration:
		return float64(x), true
	}
	return 0, false
}

// checkedValue wraps a numeric flag's value and refuses values out of its
// range as they are set, so that the flag package reports them as it does
// malformed numbers.
type checkedValue struct {
	flag.Value
	r numRange
}

func (c *checkedValue) Set(s string) error {
	old := c.Value.String()
	if err := c.Value.Set(s); err != nil {
		return err
	}
	v, _ := numericValue(c.Value)
	if !c.r.contains(v) {
		c.Value.Set(old)
		return errors.New(c.r.describe(c.Value.(flag.Getter).Get()))
	}
	return nil
}

// Get returns the wrapped value, so that the flag stays a flag.Getter.
func (c *checkedValue) Get() any { return c.Value.(flag.Getter).Get() }

// group picks the subcommand of a command made of several (bank, key …)
// from args. "help", -h or --help prints the command's usage on stdout; a
// missing or unknown subcommand is a usage error.
func (m *Main) group(args []string, usage string, subs ...string) (string, []string, error) {
	printUsage := func(w io.Writer) { fmt.Fprintln(w, strings.TrimRight(usage, "\n")) }
	if len(args) == 0 {
		return "", nil, &usageError{msg: "missing subcommand", usage: printUsage}
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		printUsage(m.Stdout)
		return "", nil, errHelpShown
	}
	for _, s := range subs {
		if args[0] == s {
			return s, args[1:], nil
		}
	}
	return "", nil, &usageError{msg: fmt.Sprintf("unknown subcommand %q (%s)", args[0], strings.Join(subs, ", ")), usage: printUsage}
}

// nargs is a usage error unless the command got between min and max
// positional arguments; want says what they are.
func (f *flagSet) nargs(min, max int, want string) error {
	if n := f.NArg(); n < min || n > max {
		return f.usageErrorf("%s takes %s, got %d arguments", strings.TrimPrefix(f.Name(), "vigil "), want, n)
	}
	return nil
}

// synopsis returns the line of a group's usage that shows the command
// name ("vigil bank import"), as the start of that subcommand's usage.
func synopsis(groupUsage, name string) string {
	for _, l := range strings.Split(groupUsage, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, name+" ") || l == name {
			return "Usage: " + l
		}
	}
	return "Usage: " + name
}
