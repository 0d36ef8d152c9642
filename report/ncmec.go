// Package report renders incidents in the formats centres take (NCMEC
// CyberTipline XML, …), checks each rendering against the centre's own
// schema and holds the adapters that send them.
package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigil-oss/vigil"
)

// NCMEC incident types Vigil chooses from (the schema's incidentType).
const (
	NCMECChildPornography = "Child Pornography (possession, manufacture, and distribution)"
	NCMECOnlineEnticement = "Online Enticement of Children for Sexual Acts"
)

// NCMECConfig is what a deployment says about itself in its reports.
type NCMECConfig struct {
	// Reporter is the person at the platform NCMEC may contact about the
	// report (reporter/reportingPerson); Email is required.
	ReporterFirstName string `json:"reporter_first_name"`
	ReporterLastName  string `json:"reporter_last_name"`
	ReporterEmail     string `json:"reporter_email"`
	ReporterPhone     string `json:"reporter_phone"`
	// Platform is the application's full name: incidentSummary/platform,
	// the users' espService and the chat client of excerpts.
	Platform        string `json:"platform"`
	CompanyTemplate string `json:"company_template"`
	TermsOfService  string `json:"terms_of_service"`
	LegalURL        string `json:"legal_url"`
	// IndustryMOU says the company has signed the Industry Hash Sharing
	// MOU: only then is the reviewer's A1–B2 class sent
	// (industryClassification).
	IndustryMOU bool `json:"industry_mou"`
}

// Validate returns an EINVALID error for a config reports cannot be made
// with.
func (c *NCMECConfig) Validate() error {
	if c.ReporterEmail == "" || !strings.Contains(c.ReporterEmail, "@") {
		return vigil.Errorf(vigil.EINVALID, "ncmec: the reporter's email is required")
	}
	if strings.ContainsAny(c.LegalURL, " \t\n") {
		// NCMEC refuses white space in URLs (code 4100).
		return vigil.Errorf(vigil.EINVALID, "ncmec: legal url must not contain white space")
	}
	return nil
}

// The types below follow NCMEC's cyber_tipline.xsd: struct fields are in
// the schema's element order, which NCMEC enforces (code 4100).

type ncmecReport struct {
	XMLName         xml.Name        `xml:"report"`
	IncidentSummary ncmecSummary    `xml:"incidentSummary"`
	InternetDetails []ncmecInternet `xml:"internetDetails"`
	Reporter        ncmecReporter   `xml:"reporter"`
	Reported        *ncmecUser      `xml:"personOrUserReported"`
	Recipients      []ncmecUser     `xml:"intendedRecipient"`
	Victims         []ncmecUser     `xml:"victim"`
	AdditionalInfo  string          `xml:"additionalInfo,omitempty"`
}

type ncmecSummary struct {
	IncidentType     string            `xml:"incidentType"`
	Platform         string            `xml:"platform,omitempty"`
	Escalate         string            `xml:"escalateToHighPriority,omitempty"`
	Annotations      *ncmecAnnotations `xml:"reportAnnotations"`
	IncidentDateTime string            `xml:"incidentDateTime"`
}

// flag is an element that is present (holding "true") or absent.
type flag bool

func (f flag) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if !f {
		return nil
	}
	return e.EncodeElement("true", start)
}

type ncmecAnnotations struct {
	Sextortion       flag `xml:"sextortion"`
	CSAMSolicitation flag `xml:"csamSolicitation"`
	MinorToMinor     flag `xml:"minorToMinorInteraction"`
}

type ncmecInternet struct {
	Chat *ncmecChat `xml:"chatImIncident"`
}

type ncmecChat struct {
	ChatClient     string `xml:"chatClient,omitempty"`
	ChatRoomName   string `xml:"chatRoomName,omitempty"`
	Content        string `xml:"content,omitempty"`
	AdditionalInfo string `xml:"additionalInfo,omitempty"`
}

type ncmecPerson struct {
	FirstName string       `xml:"firstName,omitempty"`
	LastName  string       `xml:"lastName,omitempty"`
	Phone     string       `xml:"phone,omitempty"`
	Email     []ncmecEmail `xml:"email"`
}

type ncmecEmail struct {
	Verified *bool  `xml:"verified,attr"`
	Address  string `xml:",chardata"`
}

type ncmecReporter struct {
	ReportingPerson ncmecPerson `xml:"reportingPerson"`
	CompanyTemplate string      `xml:"companyTemplate,omitempty"`
	TermsOfService  string      `xml:"termsOfService,omitempty"`
	LegalURL        string      `xml:"legalURL,omitempty"`
}

// ncmecUser is personOrUserReported, intendedRecipient and victim: the
// elements they share, in the order they share. The person element's name
// differs per block (personOrUserReportedPerson, …) and is set by
// MarshalXML.
type ncmecUser struct {
	block         string
	person        *ncmecPerson
	ESPIdentifier string
	ESPService    string
	ScreenName    string
	DisplayNames  []string
	ProfileURLs   []string
	IPs           []ncmecIP
	Devices       []ncmecDevice
	TempDisabled  *ncmecDisabled
	PermDisabled  *ncmecDisabled
}

type ncmecIP struct {
	IPAddress     string `xml:"ipAddress"`
	EventName     string `xml:"eventName,omitempty"`
	DateTime      string `xml:"dateTime,omitempty"`
	PossibleProxy *bool  `xml:"possibleProxy"`
	Port          int    `xml:"port,omitempty"`
}

type ncmecDevice struct {
	IDType    string `xml:"idType"`
	IDValue   string `xml:"idValue"`
	EventName string `xml:"eventName,omitempty"`
	DateTime  string `xml:"dateTime,omitempty"`
}

type ncmecDisabled struct {
	DisabledDate string `xml:"disabledDate,attr,omitempty"`
	Value        string `xml:",chardata"`
}

// MarshalXML writes u in its block's element order. The three blocks
// order their shared elements alike, as far as Vigil fills them.
func (u ncmecUser) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	el := func(name string, v any) error {
		return e.EncodeElement(v, xml.StartElement{Name: xml.Name{Local: name}})
	}
	if u.person != nil {
		if err := el(u.block+"Person", u.person); err != nil {
			return err
		}
	}
	for _, f := range []struct{ name, v string }{{"espIdentifier", u.ESPIdentifier}, {"espService", u.ESPService}, {"screenName", u.ScreenName}} {
		if f.v != "" {
			if err := el(f.name, f.v); err != nil {
				return err
			}
		}
	}
	for _, v := range u.DisplayNames {
		if err := el("displayName", v); err != nil {
			return err
		}
	}
	for _, v := range u.ProfileURLs {
		if err := el("profileUrl", v); err != nil {
			return err
		}
	}
	for _, v := range u.IPs {
		if err := el("ipCaptureEvent", v); err != nil {
			return err
		}
	}
	for _, v := range u.Devices {
		if err := el("deviceId", v); err != nil {
			return err
		}
	}
	if u.TempDisabled != nil {
		if err := el("accountTemporarilyDisabled", u.TempDisabled); err != nil {
			return err
		}
	}
	if u.PermDisabled != nil {
		if err := el("accountPermanentlyDisabled", u.PermDisabled); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}

type ncmecFileDetails struct {
	XMLName        xml.Name         `xml:"fileDetails"`
	ReportID       int64            `xml:"reportId"`
	FileID         string           `xml:"fileId"`
	OriginalName   string           `xml:"originalFileName,omitempty"`
	Viewed         bool             `xml:"fileViewedByEsp"`
	Relevance      string           `xml:"fileRelevance"`
	Annotations    *ncmecFileAnnots `xml:"fileAnnotations"`
	Classification string           `xml:"industryClassification,omitempty"`
	Hashes         []ncmecHash      `xml:"originalFileHash"`
	Details        []ncmecDetails   `xml:"details"`
	AdditionalInfo []string         `xml:"additionalInfo"`
}

// ncmecFileAnnots writes the set annotations, each an empty-content
// "true" element, in FileAnnotations order (the schema takes any order).
type ncmecFileAnnots struct{ names []string }

func (a ncmecFileAnnots) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	for _, n := range vigil.FileAnnotations {
		if slices.Contains(a.names, n) {
			if err := e.EncodeElement("true", xml.StartElement{Name: xml.Name{Local: n}}); err != nil {
				return err
			}
		}
	}
	return e.EncodeToken(start.End())
}

type ncmecHash struct {
	Type  string `xml:"hashType,attr"`
	Value string `xml:",chardata"`
}

type ncmecDetails struct {
	Type  string      `xml:"type,attr"`
	Pairs []ncmecPair `xml:"nameValuePair"`
}

type ncmecPair struct {
	Name  string `xml:"name"`
	Value string `xml:"value"`
}

// xmlTime is the schema's xs:dateTime, in UTC to the second.
func xmlTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// NCMECIncidentType is the incident type of inc: enticement when it holds
// a conversation (grooming, solicitation; sextortion is this type with its
// annotation), known imagery otherwise.
func NCMECIncidentType(inc *vigil.Incident) string {
	if inc.Enticement() {
		return NCMECOnlineEnticement
	}
	return NCMECChildPornography
}

// RenderNCMEC renders inc as a CyberTipline <report> (the body of
// /submit). facts are the account facts the platform gave, by user id; a
// user without facts is reported by id alone. The result is not yet
// validated: see Validator.
func RenderNCMEC(inc *vigil.Incident, facts map[string]*vigil.AccountFacts, cfg NCMECConfig) ([]byte, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := inc.Validate(); err != nil {
		return nil, err
	}
	r := ncmecReport{
		IncidentSummary: ncmecSummary{
			IncidentType:     NCMECIncidentType(inc),
			Platform:         cfg.Platform,
			Escalate:         inc.Urgent,
			IncidentDateTime: xmlTime(inc.Time),
		},
		Reporter: ncmecReporter{
			ReportingPerson: ncmecPerson{FirstName: cfg.ReporterFirstName, LastName: cfg.ReporterLastName,
				Phone: cfg.ReporterPhone, Email: []ncmecEmail{{Address: cfg.ReporterEmail}}},
			CompanyTemplate: cfg.CompanyTemplate, TermsOfService: cfg.TermsOfService, LegalURL: cfg.LegalURL,
		},
		AdditionalInfo: inc.Notes,
	}
	if inc.Sextortion || inc.CSAMSolicitation || inc.MinorToMinor {
		r.IncidentSummary.Annotations = &ncmecAnnotations{flag(inc.Sextortion), flag(inc.CSAMSolicitation), flag(inc.MinorToMinor)}
	}
	for _, c := range inc.Conversations {
		r.InternetDetails = append(r.InternetDetails, ncmecInternet{Chat: &ncmecChat{
			ChatClient: cfg.Platform, ChatRoomName: c.ConversationID, Content: excerpt(c),
			AdditionalInfo: fmt.Sprintf("Excerpt of the messages a reviewer confirmed (case %d); suspect %s.", c.CaseID, c.Suspect),
		}})
	}
	reported := user("personOrUserReported", inc.ReportedUser, facts[inc.ReportedUser], cfg)
	r.Reported = &reported
	var recipients []string
	for _, c := range inc.Conversations {
		for _, id := range c.IntendedRecipients {
			if !slices.Contains(recipients, id) {
				recipients = append(recipients, id)
			}
		}
	}
	for _, id := range recipients {
		r.Recipients = append(r.Recipients, user("intendedRecipient", id, facts[id], cfg))
	}
	for _, id := range inc.Victims {
		v := user("victim", id, facts[id], cfg)
		if v.person == nil {
			v.person = &ncmecPerson{} // victimPerson is required; the platform may know nothing of the person
		}
		r.Victims = append(r.Victims, v)
	}
	return marshal(r)
}

// excerpt is the chat content of a conversation: one line a message.
func excerpt(c *vigil.IncidentConversation) string {
	var b strings.Builder
	for _, m := range c.Messages {
		if !m.Time.IsZero() {
			b.WriteString("[" + xmlTime(m.Time) + "] ")
		}
		fmt.Fprintf(&b, "%s: %s", m.Speaker, m.Text)
		if len(m.Indicators) > 0 {
			fmt.Fprintf(&b, " (indicators: %s)", strings.Join(m.Indicators, ", "))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// user renders one user block from the platform's facts.
func user(block, id string, f *vigil.AccountFacts, cfg NCMECConfig) ncmecUser {
	u := ncmecUser{block: block, ESPIdentifier: id, ESPService: cfg.Platform}
	if f == nil {
		return u
	}
	if len(f.Emails) > 0 {
		p := &ncmecPerson{}
		for _, e := range f.Emails {
			em := ncmecEmail{Address: e.Address}
			if e.Verified {
				em.Verified = &e.Verified
			}
			p.Email = append(p.Email, em)
		}
		u.person = p
	}
	u.ScreenName, u.DisplayNames, u.ProfileURLs = f.ScreenName, f.DisplayNames, f.ProfileURLs
	for _, ip := range f.IPs {
		e := ncmecIP{IPAddress: ip.IP, EventName: ip.Event, DateTime: xmlTime(ip.Time), Port: ip.Port}
		if ip.PossibleProxy {
			e.PossibleProxy = &ip.PossibleProxy
		}
		u.IPs = append(u.IPs, e)
	}
	for _, d := range f.Devices {
		u.Devices = append(u.Devices, ncmecDevice{IDType: d.Type, IDValue: d.Value, EventName: d.Event, DateTime: xmlTime(d.Time)})
	}
	if d := f.Disabled; d != nil {
		v := &ncmecDisabled{DisabledDate: xmlTime(d.At), Value: "true"}
		if d.Permanent {
			u.PermDisabled = v
		} else {
			u.TempDisabled = v
		}
	}
	return u
}

// RenderNCMECFile renders the <fileDetails> of one file of a report (the
// body of /fileinfo), once NCMEC has given the report and file ids.
func RenderNCMECFile(reportID int64, fileID string, f vigil.IncidentFile, cfg NCMECConfig) ([]byte, error) {
	d := ncmecFileDetails{
		ReportID: reportID, FileID: fileID, OriginalName: f.ContentID,
		Viewed: f.Viewed, Relevance: "Reported",
	}
	if len(f.Annotations) > 0 {
		d.Annotations = &ncmecFileAnnots{names: f.Annotations}
	}
	if cfg.IndustryMOU {
		d.Classification = f.Classification
	}
	for _, h := range []struct{ typ, v string }{{"MD5", f.MD5}, {"SHA1", f.SHA1}, {"SHA256", f.SHA256}} {
		if h.v != "" {
			d.Hashes = append(d.Hashes, ncmecHash{Type: h.typ, Value: h.v})
		}
	}
	var pdq []ncmecPair
	for _, m := range f.Matches {
		if m.SignalType == vigil.SignalPDQ {
			name := "PDQ"
			if m.Distance > 0 {
				// The listed hash is near the file's, not the file's own.
				name = fmt.Sprintf("PDQ of matched list entry (distance %d)", m.Distance)
			}
			pdq = append(pdq, ncmecPair{Name: name, Value: m.Value})
		}
		d.AdditionalInfo = append(d.AdditionalInfo, provenance(m))
	}
	if len(pdq) > 0 {
		d.Details = append(d.Details, ncmecDetails{Type: "HASH", Pairs: pdq})
	}
	return marshal(d)
}

// provenance says which list entry found a file, for the analyst.
func provenance(m vigil.Match) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Matched %s entry %d of list %q", m.SignalType, m.EntryID, m.Bank)
	if m.Source != "" {
		fmt.Fprintf(&b, " (source %s", m.Source)
		if m.SourceEntryID != "" {
			fmt.Fprintf(&b, ", source entry %s", m.SourceEntryID)
		}
		b.WriteString(")")
	}
	if m.Category != "" {
		fmt.Fprintf(&b, ", category %s", m.Category)
	}
	fmt.Fprintf(&b, " at distance %d (threshold %d).", m.Distance, m.Threshold)
	return b.String()
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("render ncmec xml: %w", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}
