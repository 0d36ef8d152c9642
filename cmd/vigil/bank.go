package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/banklist"
	"github.com/vigil-oss/vigil/sqlite"
)

// BankCommand manages banks in the data directory:
// `vigil bank create|list|import|export`.
type BankCommand struct{ *Main }

const bankUsage = `Usage:
	vigil bank create [--data DIR] [--description D] [--negative] [--threshold N] [--disabled] NAME
	vigil bank list [--data DIR]
	vigil bank import [--data DIR] [--signal-type T] [--source S] [--format auto|text|csv] NAME FILE|-
	vigil bank export [--data DIR] NAME [FILE|-]

Lists are text (one hash per line, # comments, needs --signal-type) or CSV with a
header from signal_type,value,source,source_entry_id,category. An import is atomic:
all of the file or, on any error, none of it.`

// Run dispatches to the bank subcommands.
func (c *BankCommand) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(c.Stderr, bankUsage)
		return flag.ErrHelp
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("vigil bank "+sub, flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	data := dataFlag(fs)
	var run func(ctx context.Context, db *sqlite.DB) error
	switch sub {
	case "create":
		desc := fs.String("description", "", "what the bank holds and where it comes from")
		negative := fs.Bool("negative", false, "a negative bank: its matches suppress matches from other banks")
		threshold := fs.Int("threshold", vigil.DefaultPDQThreshold, "PDQ match threshold (inclusive Hamming distance)")
		disabled := fs.Bool("disabled", false, "create the bank disabled")
		run = func(ctx context.Context, db *sqlite.DB) error {
			if fs.NArg() != 1 {
				return fmt.Errorf("usage: vigil bank create [flags] NAME")
			}
			b := &vigil.Bank{Name: fs.Arg(0), Description: *desc, Negative: *negative, Enabled: !*disabled,
				Thresholds: map[vigil.SignalType]int{vigil.SignalPDQ: *threshold}}
			actx := vigil.WithAudit(ctx, cliRecord(vigil.AuditBankCreate, "bank:"+b.Name, b))
			if err := sqlite.NewBankService(db).CreateBank(actx, b); err != nil {
				return err
			}
			return json.NewEncoder(c.Stdout).Encode(b)
		}
	case "list":
		run = func(ctx context.Context, db *sqlite.DB) error {
			banks, err := sqlite.NewBankService(db).ListBanks(ctx)
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
		format := fs.String("format", "auto", "list format: auto, text or csv")
		run = func(ctx context.Context, db *sqlite.DB) error {
			if fs.NArg() != 2 {
				return fmt.Errorf("usage: vigil bank import [flags] NAME FILE|-")
			}
			opt := banklist.Options{SignalType: vigil.SignalType(*signalType), Source: *source}
			switch *format {
			case "auto":
			case "text":
				opt.Format = banklist.FormatText
			case "csv":
				opt.Format = banklist.FormatCSV
			default:
				return fmt.Errorf("--format must be auto, text or csv")
			}
			b, err := sqlite.NewBankService(db).FindBankByName(ctx, fs.Arg(0))
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
			res, err := sqlite.NewEntryService(db).ImportEntries(actx, b.ID, "cli", banklist.NewReader(r, opt).All())
			if err != nil {
				return fmt.Errorf("import into %s: %s (nothing was imported)", b.Name, errorText(err))
			}
			return json.NewEncoder(c.Stdout).Encode(res)
		}
	case "export":
		run = func(ctx context.Context, db *sqlite.DB) error {
			if fs.NArg() < 1 || fs.NArg() > 2 {
				return fmt.Errorf("usage: vigil bank export [flags] NAME [FILE|-]")
			}
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
	default:
		fmt.Fprintln(c.Stderr, bankUsage)
		return fmt.Errorf("unknown bank command %q", sub)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, err := c.openStore(ctx, *data)
	if err != nil {
		return err
	}
	defer db.Close()
	return run(ctx, db)
}

// exportBank writes a bank's active entries as CSV.
func exportBank(ctx context.Context, db *sqlite.DB, name string, w io.Writer) error {
	b, err := sqlite.NewBankService(db).FindBankByName(ctx, name)
	if err != nil {
		return err
	}
	return banklist.Export(ctx, sqlite.NewEntryService(db), b.ID, w)
}
