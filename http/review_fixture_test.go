package http_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/color"
	"image/png"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// benignPNG is a generated picture: a colour gradient with a few flat
// shapes. It is what review tests show in place of real content.
func benignPNG(tb testing.TB) []byte {
	tb.Helper()
	const w, h = 480, 320
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{uint8(60 + 150*x/w), uint8(120 + 100*y/h), 220, 255}
			switch {
			case (x-120)*(x-120)+(y-160)*(y-160) < 60*60:
				c = color.NRGBA{230, 180, 40, 255} // a sun
			case x > 260 && x < 420 && y > 200 && y < 300:
				c = color.NRGBA{40, 110, 60, 255} // a field
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// reviewFixture is what seedReview stores.
type reviewFixture struct {
	imageCase, convCase, hiddenCase int64
	entryID                         int64
	media                           []byte
}

// seedReview stores a review queue (reviewers), a curation queue
// (curators only), a bank entry, an image match case with media and a
// conversation case. The conversation is non-explicit: age probing,
// secrecy, a gift and a move to another app.
func seedReview(tb testing.TB, ts *testServer) reviewFixture {
	tb.Helper()
	ctx := context.Background()
	cases := ts.Cases
	for _, q := range []*vigil.Queue{
		{Name: "review", Description: "Matches and flagged conversations", Roles: []vigil.Role{vigil.RoleReviewer}},
		{Name: "curation", Description: "Entries to check", Roles: []vigil.Role{vigil.RoleCurator}},
	} {
		if err := cases.CreateQueue(ctx, q); err != nil {
			tb.Fatal(err)
		}
	}
	bank := &vigil.Bank{Name: "known", Enabled: true}
	if err := ts.Banks.CreateBank(ctx, bank); err != nil {
		tb.Fatal(err)
	}
	entry := &vigil.Entry{SignalType: vigil.SignalPDQ, Value: imagePDQ, Source: "test-list", SourceEntryID: "t-1", Category: "B2"}
	if _, err := ts.Entries.AddEntries(ctx, bank.ID, "test", []*vigil.Entry{entry}); err != nil {
		tb.Fatal(err)
	}
	f := reviewFixture{entryID: entry.ID, media: benignPNG(tb)}
	mediaID, err := ts.Media.Put(ctx, f.media)
	if err != nil {
		tb.Fatal(err)
	}
	sum := sha256.Sum256(f.media)
	match := vigil.Match{BankID: bank.ID, Bank: bank.Name, EntryID: entry.ID, SignalType: vigil.SignalPDQ, Value: imagePDQ,
		Distance: 4, Threshold: 31, Source: entry.Source, SourceEntryID: entry.SourceEntryID, Category: entry.Category}
	retain := time.Now().Add(24 * time.Hour)
	img := &vigil.Case{Queue: "review", Kind: vigil.CaseKindMatch, Priority: 50, Rule: "known-images",
		Content:     vigil.ContentRef{SHA256: hex.EncodeToString(sum[:]), MediaType: "image/png", MediaID: mediaID, ContentID: "upload-17", UserID: "user-9"},
		Matches:     []vigil.Match{match},
		RetainUntil: retain}
	if err := cases.OpenCase(ctx, img, "test"); err != nil {
		tb.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 18, 0, 0, 0, time.UTC)
	conv := &vigil.Case{Queue: "review", Kind: vigil.CaseKindConversation, Priority: 80, Rule: "grooming",
		Conversation: &vigil.CaseConversation{ConversationID: "chat-42", Score: 0.87, Suspect: "stranger", Messages: []vigil.CaseMessage{
			{Index: 0, Speaker: "stranger", Text: "hey, nice drawing you posted", Time: t0},
			{Index: 1, Speaker: "kid", Text: "thanks!", Time: t0.Add(time.Minute)},
			{Index: 2, Speaker: "stranger", Text: "how old are you btw?", Time: t0.Add(2 * time.Minute), Indicators: []string{"age_probing"}},
			{Index: 3, Speaker: "kid", Text: "12", Time: t0.Add(3 * time.Minute)},
			{Index: 4, Speaker: "stranger", Text: "I can send you a gift card, just don't tell your parents", Time: t0.Add(4 * time.Minute), Indicators: []string{"gift", "secrecy"}},
			{Index: 5, Speaker: "stranger", Text: "let's talk on another app instead", Time: t0.Add(5 * time.Minute), Indicators: []string{"platform_move"}},
		}},
		RetainUntil: retain}
	if err := cases.OpenCase(ctx, conv, "test"); err != nil {
		tb.Fatal(err)
	}
	hidden := &vigil.Case{Queue: "curation", Kind: vigil.CaseKindMatch, Matches: []vigil.Match{match}, RetainUntil: retain}
	if err := cases.OpenCase(ctx, hidden, "test"); err != nil {
		tb.Fatal(err)
	}
	f.imageCase, f.convCase, f.hiddenCase = img.ID, conv.ID, hidden.ID
	return f
}
