package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/banklist"
)

// BankCommand manages banks in the data directory:
// `vigil bank create|list|import|export|retract|reveal`.
type BankCommand struct{ *Main }

const bankUsage = `Usage:
	vigil bank create [--data DIR] [--description D] [--negative] [--threshold N] [--disabled] [--reveal LEVEL] NAME
	vigil bank list [--data DIR]
	vigil bank import [--data DIR] [--signal-type T] [--source S] [--format auto|text|csv|hma|vpdq] [--source-entry-id ID] NAME FILE|-
	vigil bank export [--data DIR] NAME [FILE|-]
	vigil bank retract [--data DIR] --reason TEXT ENTRY_ID
	vigil bank reveal [--data DIR] NAME full|source|bank

Lists are text (one hash per line, # comments, needs --signal-type), CSV with a
header from signal_type,value,source,source_entry_id,category,quality (a PDQ's
quality, 0 to 100, or empty), HMA's CSV (the
signal_type,signal_str,collab,category,tags that python-threatexchange's dataset
command writes), or a vPDQ file (one video's frame,quality,hash,timestamp lines:
one entry, named by --source-entry-id, default the file's name). --format auto
tells them apart by the first line. An import is atomic:
all of the file or, on any error, none of it. Entries are never deleted: retract
one, with a reason, and it stops matching. reveal sets what hosted lookups (keys of
the lookup role) are shown of the bank's matches: full (entry id, source, source
entry id, category), source, or bank (its name and the distance: the default).`

// Run dispatches to the bank subcommands.
func (c *BankCommand) Run(ctx context.Context, args []string) error {
	sub, args, err := c.group(args, bankUsage, "create", "list", "import", "export", "retract", "reveal")
	if err != nil {
		return err
	}
	fs := c.newFlagSet("vigil bank "+sub, synopsis(bankUsage, "vigil bank "+sub))
	data := dataFlag(fs)
	var check func() error // the arguments, before the store is opened
	var run func(ctx context.Context, db *store) error
	switch sub {
	case "create":
		desc := fs.String("description", "", "what the bank holds and where it comes from")
		negative := fs.Bool("negative", false, "a negative bank: its matches suppress matches from other banks")
		threshold := fs.Int("threshold", vigil.DefaultPDQThreshold, "PDQ match threshold (inclusive Hamming distance)")
		disabled := fs.Bool("disabled", false, "create the bank disabled")
		reveal := fs.String("reveal", string(vigil.RevealBank), "what hosted lookups are shown of the bank's matches: full, source or bank")
		check = func() error {
			if !vigil.Reveal(*reveal).Valid() {
				return fs.usageErrorf("--reveal must be full, source or bank, not %q", *reveal)
			}
			return fs.nargs(1, 1, "a bank NAME")
		}
		run = func(ctx context.Context, db *store) error {
			b := &vigil.Bank{Name: fs.Arg(0), Description: *desc, Negative: *negative, Enabled: !*disabled,
				Thresholds: map[vigil.SignalType]int{vigil.SignalPDQ: *threshold}, Reveal: vigil.Reveal(*reveal)}
			actx := vigil.WithAudit(ctx, cliRecord(vigil.AuditBankCreate, "bank:"+b.Name, b))
			if err := db.Banks.CreateBank(actx, b); err != nil {
				return err
			}
			return json.NewEncoder(c.Stdout).Encode(b)
		}
	case "list":
		check = func() error { return fs.nargs(0, 0, "no arguments") }
		run = func(ctx context.Context, db *store) error {
			banks, err := db.Banks.ListBanks(ctx)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(c.Stdout)
			for _, b := range banks {
				enc.Encode(b)
			}
			return nil
		}
	case "import":
		signalType := fs.String("signal-type", "", "signal type of a text list's values (pdq, md5, sha1, sha256)")
		source := fs.String("source", "", "source of entries whose line names none (e.g. ncmec, iwf, local)")
		format := fs.String("format", "auto", "list format: auto, text, csv, hma or vpdq")
		entryID := fs.String("source-entry-id", "", "source entry id of a vPDQ file's entry (default: the file's name)")
		opt := banklist.Options{}
		check = func() error {
			f, err := banklist.ParseFormat(*format)
			if err != nil {
				return fs.usageErrorf("--format must be auto, text, csv, hma or vpdq, not %q", *format)
			}
			opt.Format = f
			return fs.nargs(2, 2, "a bank NAME and a FILE (- for standard input)")
		}
		run = func(ctx context.Context, db *store) error {
			opt.SignalType, opt.Source, opt.SourceEntryID = vigil.SignalType(*signalType), *source, *entryID
			if opt.SourceEntryID == "" && fs.Arg(1) != "-" {
				opt.SourceEntryID = filepath.Base(fs.Arg(1))
			}
			b, err := db.Banks.FindBankByName(ctx, fs.Arg(0))
			if err != nil {
				return err
			}
			r, closeInput, err := openInput(fs.Arg(1), c.Stdin)
			if err != nil {
				return err
			}
			defer closeInput()
			// The store puts its counts in the record (vigil.AuditResult).
			actx := vigil.WithAudit(ctx, cliRecord(vigil.AuditEntriesImport, "bank:"+b.Name, nil))
			res, err := db.Entries.ImportEntries(actx, b.ID, "cli", banklist.NewReader(r, opt).All())
			if err != nil {
				return fmt.Errorf("import into %s: %s (nothing was imported)", b.Name, errorText(err))
			}
			return json.NewEncoder(c.Stdout).Encode(res)
		}
	case "export":
		check = func() error { return fs.nargs(1, 2, "a bank NAME and optionally a FILE") }
		run = func(ctx context.Context, db *store) error {
			// Nothing leaves before the export is on record.
			if err := c.auditCLI(ctx, db, vigil.AuditBankExport, "bank:"+fs.Arg(0), nil); err != nil {
				return err
			}
			if fs.NArg() == 1 || fs.Arg(1) == "-" {
				return exportBank(ctx, db, fs.Arg(0), c.Stdout)
			}
			f, err := os.Create(fs.Arg(1))
			if err != nil {
				return err
			}
			if err := exportBank(ctx, db, fs.Arg(0), f); err != nil {
				f.Close()
				return err
			}
			// The file's last bytes may only fail to land at close.
			return f.Close()
		}
	case "retract":
		reason := fs.String("reason", "", "why the entry is retracted (required; kept with the entry and in the audit log)")
		var id int64
		check = func() error {
			if err := fs.nargs(1, 1, "an ENTRY_ID"); err != nil {
				return err
			}
			var err error
			if id, err = strconv.ParseInt(fs.Arg(0), 10, 64); err != nil || id <= 0 {
				return fs.usageErrorf("entry id %q is not a positive number", fs.Arg(0))
			}
			if strings.TrimSpace(*reason) == "" {
				return fs.usageErrorf("bank retract needs --reason")
			}
			return nil
		}
		run = func(ctx context.Context, db *store) error {
			// The store method and audit record of POST /v1/entries/{id}/retract,
			// the record written in the retraction's own transaction.
			rec := cliRecord(vigil.AuditEntryRetract, "entry:"+strconv.FormatInt(id, 10), map[string]string{"reason": *reason})
			e, err := db.Entries.RetractEntry(vigil.WithAudit(ctx, rec), id, "cli", *reason)
			if err != nil {
				return err
			}
			return json.NewEncoder(c.Stdout).Encode(e)
		}
	case "reveal":
		check = func() error {
			if err := fs.nargs(2, 2, "a bank NAME and a level (full, source or bank)"); err != nil {
				return err
			}
			if !vigil.Reveal(fs.Arg(1)).Valid() {
				return fs.usageErrorf("reveal level must be full, source or bank, not %q", fs.Arg(1))
			}
			return nil
		}
		run = func(ctx context.Context, db *store) error {
			b, err := db.Banks.FindBankByName(ctx, fs.Arg(0))
			if err != nil {
				return err
			}
			// The store method and audit record of PATCH /v1/banks/{name}.
			upd := vigil.BankUpdate{Reveal: ptrTo(vigil.Reveal(fs.Arg(1)))}
			b, err = db.Banks.UpdateBank(vigil.WithAudit(ctx, cliRecord(vigil.AuditBankUpdate, "bank:"+b.Name, upd)), b.ID, upd)
			if err != nil {
				return err
			}
			return json.NewEncoder(c.Stdout).Encode(b)
		}
	}
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := check(); err != nil {
		return err
	}
	db, err := c.openStore(ctx, data)
	if err != nil {
		return err
	}
	defer db.Close()
	return run(ctx, db)
}

// exportBank writes a bank's active entries as CSV.
func exportBank(ctx context.Context, db *store, name string, w io.Writer) error {
	b, err := db.Banks.FindBankByName(ctx, name)
	if err != nil {
		return err
	}
	return banklist.Export(ctx, db.Entries, b.ID, w)
}

func ptrTo[T any](v T) *T { return &v }
