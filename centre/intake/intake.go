// Package intake reads the reports providers send a centre: the EU Centre
// rendering (report/ EU template, JSON) and CyberTipline XML, each with a
// size limit and, for XML, NCMEC's schema. It links nothing but the root
// package, so its fuzz targets run fast; centre/ triages what it reads.
package intake

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"strings"

	"github.com/vigil-oss/vigil"
)

// Parsed is what a centre reads of a report before triage.
type Parsed struct {
	Format            string
	ProviderReference string
	ReportedUser      string
	Files             []vigil.CentreFile
	Conversations     int
	Urgent            bool
	// Items is how many items the provider said the report holds (the EU
	// rendering's content.items); files and conversations are counted
	// whatever it says.
	Items int
}

// ParseEU reads the EU Centre rendering (report/ EU template, the
// embedded default's section and field names): the provider's reference,
// the files with their hashes and claimed matches, the conversations, the
// reported user and urgency. Sections and fields it does not know are
// ignored, so a template that adds fields still parses; a body that is not
// such a document, or is larger than vigil.MaxCentreReportBytes, is
// EINVALID/ETOOLARGE.
func ParseEU(body []byte) (*Parsed, error) {
	if len(body) > vigil.MaxCentreReportBytes {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "a report is at most %d bytes", vigil.MaxCentreReportBytes)
	}
	var doc struct {
		Template string `json:"template"`
		Sections []struct {
			ID     string                     `json:"id"`
			Fields map[string]json.RawMessage `json:"fields"`
		} `json:"sections"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&doc); err != nil {
		return nil, vigil.Errorf(vigil.EINVALID, "eu report: %v", err)
	}
	if dec.More() {
		return nil, vigil.Errorf(vigil.EINVALID, "eu report: data after the document")
	}
	if doc.Template == "" || len(doc.Sections) == 0 {
		return nil, vigil.Errorf(vigil.EINVALID, "eu report: not an EU Centre rendering (no template or sections)")
	}
	p := &Parsed{Format: vigil.CentreFormatEU}
	field := func(f map[string]json.RawMessage, name string, v any) error {
		raw, ok := f[name]
		if !ok {
			return nil
		}
		if err := json.Unmarshal(raw, v); err != nil {
			return vigil.Errorf(vigil.EINVALID, "eu report: field %s: %v", name, err)
		}
		return nil
	}
	for _, s := range doc.Sections {
		var err error
		switch s.ID {
		case "report":
			err = field(s.Fields, "provider_reference", &p.ProviderReference)
		case "content":
			var files []struct {
				SHA256  string            `json:"sha256"`
				MD5     string            `json:"md5"`
				SHA1    string            `json:"sha1"`
				Matches []json.RawMessage `json:"matches"`
			}
			var convs []json.RawMessage
			if err = field(s.Fields, "files", &files); err != nil {
				break
			}
			if err = field(s.Fields, "conversations", &convs); err != nil {
				break
			}
			if err = field(s.Fields, "items", &p.Items); err != nil {
				break
			}
			if len(files) > vigil.MaxCentreFiles {
				return nil, vigil.Errorf(vigil.ETOOLARGE, "eu report: at most %d files", vigil.MaxCentreFiles)
			}
			for _, f := range files {
				p.Files = append(p.Files, file(f.SHA256, f.MD5, f.SHA1, len(f.Matches)))
			}
			p.Conversations = len(convs)
		case "users":
			var u struct {
				ID string `json:"id"`
			}
			err = field(s.Fields, "reported_user", &u)
			p.ReportedUser = u.ID
		case "urgency":
			err = field(s.Fields, "urgent", &p.Urgent)
		}
		if err != nil {
			return nil, err
		}
	}
	return p, clean(p)
}

// file returns a file with the hashes that are well formed; a malformed
// one is left out (the file may then be flagged missing_hash), not
// refused, so one bad field does not lose the report.
func file(sha256, md5, sha1 string, claimed int) vigil.CentreFile {
	canon := func(t vigil.SignalType, v string) string {
		if v == "" {
			return ""
		}
		c, err := vigil.CanonicalValue(t, v)
		if err != nil {
			return ""
		}
		return c
	}
	return vigil.CentreFile{SHA256: canon(vigil.SignalSHA256, sha256), MD5: canon(vigil.SignalMD5, md5),
		SHA1: canon(vigil.SignalSHA1, sha1), ClaimedMatches: claimed}
}

// clean bounds the strings a report carries into the store.
func clean(p *Parsed) error {
	for _, s := range []*string{&p.ProviderReference, &p.ReportedUser} {
		if len(*s) > vigil.MaxEntryFieldLen || !vigil.Printable(*s) {
			return vigil.Errorf(vigil.EINVALID, "report: ids are at most %d printable bytes", vigil.MaxEntryFieldLen)
		}
	}
	return nil
}

// Validator checks a CyberTipline document against NCMEC's schema
// (report.Validator: xmllint and the XSD the project embeds).
type Validator interface {
	Validate(ctx context.Context, doc []byte) error
}

// MaxNCMECParts bounds the documents of one CyberTipline submission.
const MaxNCMECParts = vigil.MaxCentreFiles + 1

// ParseNCMEC reads a CyberTipline submission as ISPWS receives it in
// steps: a <report> document, then one <fileDetails> per file. Sent in one
// request it is multipart/mixed (contentType's boundary), the report
// first; a lone report is application/xml. Every document is checked
// against the schema by v first (EINVALID naming what it refuses); a nil
// v skips that (the fuzz target, which tests the reading alone).
func ParseNCMEC(ctx context.Context, body []byte, contentType string, v Validator) (*Parsed, error) {
	if len(body) > vigil.MaxCentreReportBytes {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "a report is at most %d bytes", vigil.MaxCentreReportBytes)
	}
	docs, err := ncmecDocuments(body, contentType)
	if err != nil {
		return nil, err
	}
	p := &Parsed{Format: vigil.CentreFormatNCMEC}
	for i, doc := range docs {
		if v != nil {
			if err := v.Validate(ctx, doc); err != nil {
				if c := vigil.ErrorCode(err); c == vigil.EINVALID || c == vigil.ETOOLARGE {
					return nil, vigil.Errorf(c, "ncmec document %d: %s", i, vigil.ErrorMessage(err))
				}
				return nil, err
			}
		}
		if i == 0 {
			if err := readNCMECReport(doc, p); err != nil {
				return nil, err
			}
			continue
		}
		f, err := readNCMECFile(doc)
		if err != nil {
			return nil, vigil.Errorf(vigil.EINVALID, "ncmec document %d: %s", i, vigil.ErrorMessage(err))
		}
		p.Files = append(p.Files, f)
	}
	p.Items = len(p.Files) + p.Conversations
	return p, clean(p)
}

func ncmecDocuments(body []byte, contentType string) ([][]byte, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, vigil.Errorf(vigil.EINVALID, "ncmec report: content type %q: %v", contentType, err)
	}
	switch {
	case mt == "application/xml" || mt == "text/xml":
		return [][]byte{body}, nil
	case mt == "multipart/mixed" && params["boundary"] != "":
	default:
		return nil, vigil.Errorf(vigil.EUNSUPPORTED, "ncmec report: send application/xml (a report) or multipart/mixed (a report and its fileDetails), not %s", mt)
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var docs [][]byte
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		} else if err != nil {
			return nil, vigil.Errorf(vigil.EINVALID, "ncmec report: multipart: %v", err)
		}
		if len(docs) == MaxNCMECParts {
			return nil, vigil.Errorf(vigil.ETOOLARGE, "ncmec report: at most %d documents", MaxNCMECParts)
		}
		// The body is bounded already; a part cannot be larger.
		doc, err := io.ReadAll(part)
		if err != nil {
			return nil, vigil.Errorf(vigil.EINVALID, "ncmec report: multipart: %v", err)
		}
		docs = append(docs, doc)
	}
	if len(docs) == 0 {
		return nil, vigil.Errorf(vigil.EINVALID, "ncmec report: no documents")
	}
	return docs, nil
}

// Multipart packs CyberTipline documents (a <report>, then one
// <fileDetails> per file) as ParseNCMEC reads them, for a client sending
// them in one request: the body and its Content-Type.
func Multipart(docs ...[]byte) ([]byte, string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, d := range docs {
		w, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/xml"}})
		if err != nil {
			return nil, "", err
		}
		if _, err := w.Write(d); err != nil {
			return nil, "", err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), "multipart/mixed; boundary=" + mw.Boundary(), nil
}

// decodeXML decodes one document into v, refusing a root other than
// root, DTDs (no entity expansion) and trailing documents.
func decodeXML(doc []byte, root string, v any) error {
	dec := xml.NewDecoder(bytes.NewReader(doc))
	dec.Strict = true
	for {
		tok, err := dec.Token()
		if err != nil {
			return vigil.Errorf(vigil.EINVALID, "want a <%s> document: %v", root, err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return vigil.Errorf(vigil.EINVALID, "document type declarations are not accepted")
		case xml.StartElement:
			if t.Name.Local != root {
				return vigil.Errorf(vigil.EINVALID, "want a <%s> document, not <%s>", root, t.Name.Local)
			}
			if err := dec.DecodeElement(v, &t); err != nil {
				return vigil.Errorf(vigil.EINVALID, "<%s>: %v", root, err)
			}
			for {
				tok, err := dec.Token()
				if err == io.EOF {
					return nil
				} else if err != nil {
					return vigil.Errorf(vigil.EINVALID, "after <%s>: %v", root, err)
				}
				switch t := tok.(type) {
				case xml.CharData:
					if len(bytes.TrimSpace(t)) > 0 {
						return vigil.Errorf(vigil.EINVALID, "text after <%s>", root)
					}
				case xml.Comment, xml.ProcInst:
				default:
					return vigil.Errorf(vigil.EINVALID, "more after <%s>", root)
				}
			}
		}
	}
}

func readNCMECReport(doc []byte, p *Parsed) error {
	var r struct {
		Summary struct {
			Escalate string `xml:"escalateToHighPriority"`
		} `xml:"incidentSummary"`
		Internet []struct {
			Chat *struct{} `xml:"chatImIncident"`
		} `xml:"internetDetails"`
		Reported *struct {
			ESPIdentifier string `xml:"espIdentifier"`
		} `xml:"personOrUserReported"`
	}
	if err := decodeXML(doc, "report", &r); err != nil {
		return vigil.Errorf(vigil.EINVALID, "ncmec report: %s", vigil.ErrorMessage(err))
	}
	p.Urgent = strings.TrimSpace(r.Summary.Escalate) != ""
	for _, in := range r.Internet {
		if in.Chat != nil {
			p.Conversations++
		}
	}
	if r.Reported != nil {
		p.ReportedUser = strings.TrimSpace(r.Reported.ESPIdentifier)
	}
	return nil
}

func readNCMECFile(doc []byte) (vigil.CentreFile, error) {
	var f struct {
		Hashes []struct {
			Type  string `xml:"hashType,attr"`
			Value string `xml:",chardata"`
		} `xml:"originalFileHash"`
		Details []struct {
			Type  string `xml:"type,attr"`
			Pairs []struct {
				Name  string `xml:"name"`
				Value string `xml:"value"`
			} `xml:"nameValuePair"`
		} `xml:"details"`
		AdditionalInfo []string `xml:"additionalInfo"`
	}
	if err := decodeXML(doc, "fileDetails", &f); err != nil {
		return vigil.CentreFile{}, err
	}
	var sha256, md5, sha1 string
	for _, h := range f.Hashes {
		v := strings.TrimSpace(h.Value)
		switch strings.ToUpper(h.Type) {
		case "SHA256":
			sha256 = v
		case "MD5":
			md5 = v
		case "SHA1":
			sha1 = v
		}
	}
	// CyberTipline has no field for a hash-list match. Vigil, as a
	// provider, names each in an additionalInfo line ("Matched pdq entry
	// 55 of list …") and the listed PDQ hashes in a HASH details block
	// (report/ncmec.go): those are the claims.
	claimed := 0
	for _, a := range f.AdditionalInfo {
		if strings.HasPrefix(strings.TrimSpace(a), "Matched ") {
			claimed++
		}
	}
	out := file(sha256, md5, sha1, claimed)
	for _, d := range f.Details {
		if !strings.EqualFold(d.Type, "HASH") {
			continue
		}
		for _, pair := range d.Pairs {
			if !strings.HasPrefix(strings.TrimSpace(pair.Name), "PDQ") {
				continue
			}
			if v, err := vigil.CanonicalValue(vigil.SignalPDQ, pair.Value); err == nil && len(out.PDQ) < 16 {
				out.PDQ = append(out.PDQ, v)
			}
		}
	}
	if claimed == 0 && len(out.PDQ) > 0 {
		claimed = len(out.PDQ)
		out.ClaimedMatches = claimed
	}
	return out, nil
}

// Parse reads a report body by its content type: JSON is the EU
// rendering, XML or multipart/mixed is CyberTipline.
func Parse(ctx context.Context, body []byte, contentType string, v Validator) (*Parsed, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, vigil.Errorf(vigil.EUNSUPPORTED, "content type %q: %v", contentType, err)
	}
	switch mt {
	case "application/json":
		return ParseEU(body)
	case "application/xml", "text/xml", "multipart/mixed":
		return ParseNCMEC(ctx, body, contentType, v)
	}
	return nil, vigil.Errorf(vigil.EUNSUPPORTED, "send the EU rendering as application/json or CyberTipline XML as application/xml or multipart/mixed, not %s", fmt.Sprint(mt))
}
