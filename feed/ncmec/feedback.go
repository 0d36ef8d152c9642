package ncmec

import (
	"bytes"
	"context"
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/feed/exchange"
)

// xmlns is the namespace of the API's documents.
const xmlns = "https://hashsharing.ncmec.org/hashsharing/v2"

// Reason is a reason NCMEC offers for negative feedback on one
// fingerprint type.
type Reason struct {
	GUID string `xml:"guid,attr" json:"guid"`
	Name string `xml:"name,attr" json:"name"`
}

// FeedbackReasons returns the negative feedback reasons of a signal type
// (GET /v2/feedback/{TYPE}/reasons, as pytx's feedback_reasons reads it).
func (c *Client) FeedbackReasons(ctx context.Context, t vigil.SignalType) ([]Reason, error) {
	fp, ok := fingerprintTypes[t]
	if !ok {
		return nil, vigil.Errorf(vigil.EINVALID, "ncmec takes no feedback on %s", t)
	}
	b, err := c.send(ctx, http.MethodGet, "/v2/feedback/"+fp+"/reasons", nil, "get feedback reasons")
	if err != nil {
		return nil, err
	}
	var doc struct {
		Available struct {
			Reasons []Reason `xml:"reason"`
		} `xml:"availableFeedbackReasons"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		return nil, vigil.Errorf(vigil.EINVALID, "ncmec feedback reasons: %v", err)
	}
	return doc.Available.Reasons, nil
}

// SubmitFeedback puts an upvote (affirmative) or a downvote (negative,
// with a reason's GUID) on one fingerprint of an entry: PUT
// /v2/entries/{MEMBER}/{ID}/{TYPE}/feedback, as pytx's submit_feedback.
func (c *Client) SubmitFeedback(ctx context.Context, key string, t vigil.SignalType, upvote bool, reasonGUID string) error {
	member, id, ok := strings.Cut(key, "-")
	if _, err := strconv.ParseUint(member, 10, 64); !ok || err != nil || id == "" {
		return vigil.Errorf(vigil.EINVALID, "ncmec entry %q is not MEMBER-ID", key)
	}
	fp, ok := fingerprintTypes[t]
	if !ok {
		return vigil.Errorf(vigil.EINVALID, "ncmec takes no feedback on %s", t)
	}
	var body bytes.Buffer
	body.WriteString(`<feedbackSubmission xmlns="` + xmlns + `">`)
	if upvote {
		body.WriteString("<affirmative/>")
	} else {
		if reasonGUID == "" {
			return vigil.Errorf(vigil.EINVALID, "ncmec negative feedback needs a reason")
		}
		body.WriteString("<negative><reasonIds><guid>")
		xml.EscapeText(&body, []byte(reasonGUID))
		body.WriteString("</guid></reasonIds></negative>")
	}
	body.WriteString("</feedbackSubmission>")
	_, err := c.send(ctx, http.MethodPut, "/v2/entries/"+url.PathEscape(member)+"/"+url.PathEscape(id)+"/"+fp+"/feedback", body.Bytes(), "submit feedback")
	return err
}

func (c *Client) send(ctx context.Context, method, path string, body []byte, what string) ([]byte, error) {
	if c.Username == "" || c.Password == "" {
		return nil, vigil.Errorf(vigil.EINVALID, "ncmec needs a username and a password")
	}
	u := c.base() + path
	return c.http().Do(ctx, what, 1<<20, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.SetBasicAuth(c.Username, c.Password)
		if body != nil {
			req.Header.Set("Content-Type", "application/xml; charset=utf-8")
		}
		return req, nil
	})
}

// SendOpinions sends the opinions of bank bankID's NCMEC entries that are
// due: an upvote on the fingerprint for an entry whose matches reviewers
// mostly confirmed, a downvote for one they mostly found false positives,
// with the reason reasons gives for its signal type or, when it gives
// none, the only reason NCMEC offers for it (pytx does the same; with
// several to choose from and none given, it fails, EINVALID, before
// sending anything of that opinion). Each opinion is marked sent once
// NCMEC took it. It returns the number sent.
func SendOpinions(ctx context.Context, c *Client, state vigil.ExchangeService, bankID int64, reasons map[vigil.SignalType]string) (int, error) {
	offered := map[vigil.SignalType][]Reason{}
	return exchange.SendOpinions(ctx, state, vigil.SourceNCMEC, bankID, 1, func(ctx context.Context, ops []vigil.ExchangeOpinion) error {
		for _, o := range ops {
			guid := ""
			if !o.Verdict() {
				guid = reasons[o.SignalType]
				if guid == "" {
					rs, ok := offered[o.SignalType]
					if !ok {
						var err error
						if rs, err = c.FeedbackReasons(ctx, o.SignalType); err != nil {
							return err
						}
						offered[o.SignalType] = rs
					}
					if len(rs) != 1 {
						return vigil.Errorf(vigil.EINVALID, "ncmec offers %d reasons for negative %s feedback: choose one", len(rs), o.SignalType)
					}
					guid = rs[0].GUID
				}
			}
			if err := c.SubmitFeedback(ctx, o.SourceEntryID, o.SignalType, o.Verdict(), guid); err != nil {
				return err
			}
		}
		return nil
	})
}
