// Package banklist reads and writes hash list files, the form in which
// banks are imported and exported by the API and the CLI.
//
// Four formats are read:
//
//   - text: one value per line. Blank lines are skipped, and '#' starts a
//     comment that runs to the end of the line. All values have the signal
//     type given in Options.
//
//   - CSV: a header line naming the columns, from signal_type, value,
//     source, source_entry_id, category and quality, in any order; value is
//     required, and signal_type is required unless Options gives one.
//     quality is a PDQ hash's quality, 0 to 100 (as vigil hash prints
//     it), or empty when unknown. Lines
//     starting with '#' are comments. A field may be quoted, but a record
//     may not span lines.
//
//   - HMA: the CSV that python-threatexchange's dataset command (which
//     HMA's exchanges are built on) writes with --csv: the header
//     signal_type,signal_str,collab,category,tags, then one row per signal
//     and collaboration. signal_str is the value, collab the source, tags
//     (space-separated) the category; rows whose aggregate category is
//     NEGATIVE_CLASS (the collaboration says the signal is not in its
//     class) are skipped. pytx's signal type names (pdq, video_md5, vpdq,
//     url …) are read as Vigil's. pytx writes no quality column (its
//     dataset CSV has the five above only), so these entries' quality is
//     unknown.
//
//   - vPDQ: one video's frame hashes as the vPDQ reference writes them,
//     one "frame,quality,hash,timestamp" line per frame; the whole input
//     is one vpdq entry, named by Options.SourceEntryID.
//
// Writer writes the CSV format with all six columns, so an export can be
// imported again.
//
// The input comes from outside (uploads, files from hotlines), so every
// line and the whole input have size limits, and errors name the line.
package banklist

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"

	"github.com/vigil-oss/vigil"
)

// Format is the format of a list file.
type Format int

// Formats. FormatAuto takes a first line (after comments and blank lines)
// that starts with a column name followed by a comma for a CSV header (HMA
// when it names signal_str), without a signal type given a vPDQ frame line
// for a vPDQ file, and anything else for text.
const (
	FormatAuto Format = iota
	FormatText
	FormatCSV
	FormatHMA
	FormatVPDQ
)

// ParseFormat reads a format's name: auto, text, csv, hma or vpdq.
func ParseFormat(name string) (Format, error) {
	for f, n := range formatNames {
		if n == name {
			return Format(f), nil
		}
	}
	return 0, vigil.Errorf(vigil.EINVALID, "unknown list format %q (want auto, text, csv, hma or vpdq)", name)
}

var formatNames = []string{"auto", "text", "csv", "hma", "vpdq"}

// Columns of the HMA (pytx dataset) CSV, in the order it writes them.
const (
	hmaSignalType = "signal_type"
	hmaSignalStr  = "signal_str"
	hmaCollab     = "collab"
	hmaCategory   = "category"
	hmaTags       = "tags"
)

var hmaColumns = []string{hmaSignalType, hmaSignalStr, hmaCollab, hmaCategory, hmaTags}

// pytxTypes maps python-threatexchange's signal type names to Vigil's.
var pytxTypes = map[string]vigil.SignalType{
	"pdq":       vigil.SignalPDQ,
	"vpdq":      vigil.SignalVPDQ,
	"video_md5": vigil.SignalMD5,
	"md5":       vigil.SignalMD5,
	"url":       vigil.SignalURL,
	"url_md5":   "", // an MD5 of a URL: not a file digest, refused
}

// Default limits.
const (
	// DefaultMaxLineBytes fits the longest vPDQ entry (vigil.MaxVPDQFrames
	// frames of about 85 bytes each). Memory follows the longest line
	// actually read, not this bound.
	DefaultMaxLineBytes = 2 << 20
	DefaultMaxBytes     = 1 << 30 // 1 GiB: about 15 million PDQ hashes as text
)

// Columns of the CSV format, in the order Writer writes them.
const (
	ColSignalType    = "signal_type"
	ColValue         = "value"
	ColSource        = "source"
	ColSourceEntryID = "source_entry_id"
	ColCategory      = "category"
	ColQuality       = "quality"
)

var columns = []string{ColSignalType, ColValue, ColSource, ColSourceEntryID, ColCategory, ColQuality}

// Options control a Reader.
type Options struct {
	Format Format

	// SignalType is the type of every value of a text list, and of CSV rows
	// without a signal_type.
	SignalType vigil.SignalType

	// Source is the source of entries whose line gives none.
	Source string

	// SourceEntryID names the entry of a vPDQ file (a file name, say).
	SourceEntryID string

	// MaxLineBytes and MaxBytes bound a line and the whole input; zero
	// means DefaultMaxLineBytes and DefaultMaxBytes.
	MaxLineBytes int
	MaxBytes     int64
}

// Reader reads entries from a list file.
type Reader struct {
	opt  Options
	br   *bufio.Reader
	line int   // number of the last line read
	read int64 // bytes read so far
	err  error // sticky: once Next fails it keeps failing

	format Format
	long   []byte   // a line longer than br's buffer, assembled here
	header []string // CSV columns, once read
	pushed []byte   // a line read ahead to detect the format
}

// NewReader returns a Reader of r.
func NewReader(r io.Reader, opt Options) *Reader {
	if opt.MaxLineBytes <= 0 {
		opt.MaxLineBytes = DefaultMaxLineBytes
	}
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = DefaultMaxBytes
	}
	// The buffer holds a whole line of any usual list (hashes, URLs);
	// longer lines (vPDQ) are assembled in Reader.long.
	return &Reader{opt: opt, br: bufio.NewReaderSize(r, min(opt.MaxLineBytes+2, 64<<10)), format: opt.Format}
}

// Line returns the number of the line last read, counting from 1.
func (r *Reader) Line() int { return r.line }

// Next returns the next entry, or io.EOF after the last. Its errors are
// *vigil.Error values naming the line: EINVALID for malformed input,
// ETOOLARGE for input over the limits, EUNSUPPORTED for a signal type banks
// do not hold.
func (r *Reader) Next() (*vigil.Entry, error) {
	if r.err != nil {
		return nil, r.err
	}
	e, err := r.next()
	if err != nil {
		r.err = err
	}
	return e, err
}

// All returns the entries as a sequence for vigil.EntryService.ImportEntries.
// It ends after the first error.
func (r *Reader) All() iter.Seq2[*vigil.Entry, error] {
	return func(yield func(*vigil.Entry, error) bool) {
		for {
			e, err := r.Next()
			if err == io.EOF {
				return
			}
			if !yield(e, err) || err != nil {
				return
			}
		}
	}
}

func (r *Reader) next() (*vigil.Entry, error) {
	for {
		line, err := r.readLine()
		if err != nil {
			return nil, err
		}
		switch r.format {
		case FormatAuto:
			if isBlankOrComment(line) {
				continue
			}
			r.format = FormatText
			switch {
			case isHMAHeader(line):
				r.format = FormatHMA
			case isCSVHeader(line):
				r.format = FormatCSV
			case r.opt.SignalType == "" && isFrameLine(line):
				r.format = FormatVPDQ
			}
			if err := r.checkOptions(); err != nil {
				return nil, err
			}
			r.pushed, r.line = line, r.line-1
			continue
		case FormatText:
			if err := r.checkOptions(); err != nil {
				return nil, err
			}
			e, ok, err := r.parseText(line)
			if err != nil || ok {
				return e, err
			}
		case FormatCSV:
			if isBlankOrComment(line) {
				continue
			}
			if r.header == nil {
				if err := r.parseHeader(line); err != nil {
					return nil, err
				}
				continue
			}
			return r.parseRecord(line)
		case FormatHMA:
			if isBlankOrComment(line) {
				continue
			}
			if r.header == nil {
				if err := r.parseHMAHeader(line); err != nil {
					return nil, err
				}
				continue
			}
			e, ok, err := r.parseHMARecord(line)
			if err != nil || ok {
				return e, err
			}
		case FormatVPDQ:
			// Reads to the end: the next call finds io.EOF.
			return r.readVPDQ(line)
		default:
			return nil, vigil.Errorf(vigil.EINVALID, "unknown list format %d", r.format)
		}
	}
}

// checkOptions reports options that make the chosen format unreadable.
func (r *Reader) checkOptions() error {
	if r.format == FormatText && r.opt.SignalType == "" {
		return vigil.Errorf(vigil.EINVALID, "a text list needs a signal type")
	}
	return nil
}

// readLine returns the next line without its line ending, or io.EOF.
func (r *Reader) readLine() ([]byte, error) {
	if r.pushed != nil {
		line := r.pushed
		r.pushed = nil
		r.line++
		return line, nil
	}
	line, err := r.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		r.long = append(r.long[:0], line...)
		for err == bufio.ErrBufferFull {
			if len(r.long) > r.opt.MaxLineBytes+2 {
				return nil, vigil.Errorf(vigil.ETOOLARGE, "line %d: longer than %d bytes", r.line+1, r.opt.MaxLineBytes)
			}
			line, err = r.br.ReadSlice('\n')
			r.long = append(r.long, line...)
		}
		line = r.long
	}
	if err == io.EOF && len(line) == 0 {
		return nil, io.EOF
	} else if err != nil && err != io.EOF {
		return nil, fmt.Errorf("read list line %d: %w", r.line+1, err)
	}
	r.line++
	r.read += int64(len(line))
	if r.read > r.opt.MaxBytes {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "line %d: list larger than %d bytes", r.line, r.opt.MaxBytes)
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) > r.opt.MaxLineBytes {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "line %d: longer than %d bytes", r.line, r.opt.MaxLineBytes)
	}
	if r.line == 1 {
		line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf")) // a BOM, as spreadsheet programs write
	}
	// The line lives in a buffer until the next read; callers copy
	// what they keep into strings.
	return line, nil
}

// isCSVHeader reports whether a list's first line is a CSV header: it
// holds a comma and starts with a column name. vPDQ values hold commas too,
// but start with a frame number.
func isCSVHeader(line []byte) bool {
	first, _, ok := bytes.Cut(line, []byte(","))
	if !ok {
		return false
	}
	first = bytes.ToLower(bytes.Trim(bytes.TrimSpace(first), `"`))
	for _, c := range columns {
		if string(first) == c {
			return true
		}
	}
	return false
}

// isHMAHeader reports whether a first line is the header of pytx's
// dataset CSV.
func isHMAHeader(line []byte) bool {
	first, rest, ok := bytes.Cut(line, []byte(","))
	second, _, _ := bytes.Cut(rest, []byte(","))
	return ok && string(bytes.TrimSpace(first)) == hmaSignalType && string(bytes.TrimSpace(second)) == hmaSignalStr
}

// isFrameLine reports whether line is one vPDQ frame line:
// frame,quality,hash,timestamp with a 64-digit hash, and no ";" (a text
// list of vPDQ values holds whole videos, frames separated by ";").
func isFrameLine(line []byte) bool {
	f := bytes.Split(bytes.TrimSpace(line), []byte(","))
	return len(f) == 4 && bytes.IndexByte(line, ';') < 0 && len(bytes.TrimSpace(f[2])) == 64 && len(f[0]) > 0 && f[0][0] >= '0' && f[0][0] <= '9'
}

func isBlankOrComment(line []byte) bool {
	line = bytes.TrimSpace(line)
	return len(line) == 0 || line[0] == '#'
}

// parseText parses a line of a text list; ok is false for a line without
// a value.
func (r *Reader) parseText(line []byte) (e *vigil.Entry, ok bool, err error) {
	if i := bytes.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return nil, false, nil
	}
	e = &vigil.Entry{SignalType: r.opt.SignalType, Value: string(line), Source: r.opt.Source}
	if err := r.validate(e); err != nil {
		return nil, false, err
	}
	return e, true, nil
}

// parseHeader reads the CSV header line.
func (r *Reader) parseHeader(line []byte) error {
	fields, err := r.splitCSV(line)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, f := range fields {
		f = strings.ToLower(f)
		known := false
		for _, c := range columns {
			known = known || f == c
		}
		if !known {
			return vigil.Errorf(vigil.EINVALID, "line %d: unknown column %q (want %s)", r.line, fields[i], strings.Join(columns, ", "))
		}
		if seen[f] {
			return vigil.Errorf(vigil.EINVALID, "line %d: column %q twice", r.line, f)
		}
		seen[f] = true
		fields[i] = f
	}
	if !seen[ColValue] {
		return vigil.Errorf(vigil.EINVALID, "line %d: no %q column", r.line, ColValue)
	}
	if !seen[ColSignalType] && r.opt.SignalType == "" {
		return vigil.Errorf(vigil.EINVALID, "line %d: no %q column and no signal type given", r.line, ColSignalType)
	}
	r.header = fields
	return nil
}

// parseRecord reads a CSV data line.
func (r *Reader) parseRecord(line []byte) (*vigil.Entry, error) {
	fields, err := r.splitCSV(line)
	if err != nil {
		return nil, err
	}
	if len(fields) != len(r.header) {
		return nil, vigil.Errorf(vigil.EINVALID, "line %d: %d fields, want %d", r.line, len(fields), len(r.header))
	}
	e := &vigil.Entry{SignalType: r.opt.SignalType, Source: r.opt.Source}
	for i, f := range fields {
		switch r.header[i] {
		case ColSignalType:
			if f != "" {
				e.SignalType = vigil.SignalType(strings.ToLower(f))
			}
		case ColValue:
			e.Value = f
		case ColSource:
			if f != "" {
				e.Source = f
			}
		case ColSourceEntryID:
			e.SourceEntryID = f
		case ColCategory:
			e.Category = f
		case ColQuality:
			if f == "" {
				continue
			}
			q, err := strconv.Atoi(f)
			if err != nil || q < 0 || q > 100 {
				return nil, vigil.Errorf(vigil.EINVALID, "line %d: quality %q is not a whole number from 0 to 100", r.line, f)
			}
			e.Quality = &q
		}
	}
	if e.SignalType == "" {
		return nil, vigil.Errorf(vigil.EINVALID, "line %d: no signal type", r.line)
	}
	if err := r.validate(e); err != nil {
		return nil, err
	}
	return e, nil
}

// parseHMAHeader reads the header of pytx's dataset CSV: its five columns,
// in its order.
func (r *Reader) parseHMAHeader(line []byte) error {
	fields, err := r.splitCSV(line)
	if err != nil {
		return err
	}
	if strings.Join(fields, ",") != strings.Join(hmaColumns, ",") {
		return vigil.Errorf(vigil.EINVALID, "line %d: an HMA list's header is %s", r.line, strings.Join(hmaColumns, ","))
	}
	r.header = fields
	return nil
}

// parseHMARecord reads a row of pytx's dataset CSV; ok is false for a row
// skipped as NEGATIVE_CLASS.
func (r *Reader) parseHMARecord(line []byte) (e *vigil.Entry, ok bool, err error) {
	f, err := r.splitCSV(line)
	if err != nil {
		return nil, false, err
	}
	if len(f) != len(hmaColumns) {
		return nil, false, vigil.Errorf(vigil.EINVALID, "line %d: %d fields, want %d", r.line, len(f), len(hmaColumns))
	}
	if f[3] == "NEGATIVE_CLASS" {
		return nil, false, nil
	}
	t, known := pytxTypes[strings.ToLower(f[0])]
	if !known || t == "" {
		return nil, false, vigil.Errorf(vigil.EUNSUPPORTED, "line %d: signal type %q is not held by banks", r.line, f[0])
	}
	e = &vigil.Entry{SignalType: t, Value: f[1], Source: f[2], Category: strings.Join(strings.Fields(f[4]), " ")}
	if e.Source == "" {
		e.Source = r.opt.Source
	}
	if err := r.validate(e); err != nil {
		return nil, false, err
	}
	return e, true, nil
}

// readVPDQ reads the rest of a vPDQ file, from its first frame line, into
// one entry: at most vigil.MaxVPDQFrames frames.
func (r *Reader) readVPDQ(first []byte) (*vigil.Entry, error) {
	var b strings.Builder
	frames := 0
	for line, err := first, error(nil); ; line, err = r.readLine() {
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if isBlankOrComment(line) {
			continue
		}
		if frames++; frames > vigil.MaxVPDQFrames {
			return nil, vigil.Errorf(vigil.ETOOLARGE, "line %d: a vpdq file of more than %d frames", r.line, vigil.MaxVPDQFrames)
		}
		if !isFrameLine(line) {
			return nil, vigil.Errorf(vigil.EINVALID, "line %d: not a vpdq frame (frame,quality,hash,timestamp)", r.line)
		}
		if b.Len() > 0 {
			b.WriteByte(';')
		}
		b.Write(bytes.TrimSpace(line))
	}
	e := &vigil.Entry{SignalType: vigil.SignalVPDQ, Value: b.String(), Source: r.opt.Source, SourceEntryID: r.opt.SourceEntryID}
	if err := e.Validate(); err != nil {
		return nil, vigil.Errorf(vigil.ErrorCode(err), "line %d: vpdq file: %s", r.line, vigil.ErrorMessage(err))
	}
	return e, nil
}

// splitCSV splits a CSV line into trimmed fields. Most lines hold no
// quotes and are split directly; the others go through encoding/csv.
func (r *Reader) splitCSV(line []byte) ([]string, error) {
	var fields []string
	if bytes.IndexByte(line, '"') < 0 {
		fields = strings.Split(string(line), ",")
	} else {
		cr := csv.NewReader(bytes.NewReader(line))
		cr.FieldsPerRecord = -1
		var err error
		if fields, err = cr.Read(); err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, vigil.Errorf(vigil.EINVALID, "line %d: %v", r.line, err)
		}
		if _, err := cr.Read(); err != io.EOF {
			return nil, vigil.Errorf(vigil.EINVALID, "line %d: a quoted field spans lines", r.line)
		}
	}
	for i := range fields {
		fields[i] = strings.TrimSpace(fields[i])
	}
	return fields, nil
}

// validate canonicalises e and names the line in its error.
func (r *Reader) validate(e *vigil.Entry) error {
	if err := e.Validate(); err != nil {
		return vigil.Errorf(vigil.ErrorCode(err), "line %d: %s", r.line, vigil.ErrorMessage(err))
	}
	return nil
}

// Writer writes entries in the CSV format.
type Writer struct {
	w      *csv.Writer
	header bool
	rec    []string
}

// NewWriter returns a Writer to w. Call Flush when done.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: csv.NewWriter(w), rec: make([]string, len(columns))}
}

// Write writes one entry, and the header before the first.
func (w *Writer) Write(e *vigil.Entry) error {
	if !w.header {
		if err := w.w.Write(columns); err != nil {
			return fmt.Errorf("write list header: %w", err)
		}
		w.header = true
	}
	w.rec[0], w.rec[1], w.rec[2], w.rec[3], w.rec[4] = string(e.SignalType), e.Value, e.Source, e.SourceEntryID, e.Category
	w.rec[5] = ""
	if e.Quality != nil {
		w.rec[5] = strconv.Itoa(*e.Quality)
	}
	if err := w.w.Write(w.rec); err != nil {
		return fmt.Errorf("write list entry %d: %w", e.ID, err)
	}
	return nil
}

// Flush writes out what is buffered, and the header if no entry was
// written, so that an empty export is still a valid list.
func (w *Writer) Flush() error {
	if !w.header {
		if err := w.w.Write(columns); err != nil {
			return fmt.Errorf("write list header: %w", err)
		}
		w.header = true
	}
	w.w.Flush()
	if err := w.w.Error(); err != nil {
		return fmt.Errorf("flush list: %w", err)
	}
	return nil
}

// Export writes the active entries of a bank (neither retracted nor
// quarantined) as CSV, reading them from the store a page at a time, so
// that memory does not grow with the bank.
func Export(ctx context.Context, entries vigil.EntryService, bankID int64, w io.Writer) error {
	cw := NewWriter(w)
	f := vigil.EntryFilter{BankID: &bankID, Limit: vigil.MaxEntryLimit}
	for {
		page, err := entries.FindEntries(ctx, f)
		if err != nil {
			return fmt.Errorf("export bank %d: %w", bankID, err)
		}
		for _, e := range page {
			if !e.Active() {
				continue // quarantined: under suspicion, not to be shared
			}
			if err := cw.Write(e); err != nil {
				return fmt.Errorf("export bank %d: %w", bankID, err)
			}
		}
		if len(page) < f.Limit {
			return cw.Flush()
		}
		f.AfterID = page[len(page)-1].ID
	}
}
