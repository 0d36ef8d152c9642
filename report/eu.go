package report

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vigil-oss/vigil"
)

// defaultEUTemplate is the EU Centre report template Vigil ships: the
// fields of Article 13 of the Commission's 2022 proposal, as a data file.
//
//go:embed templates/eu-centre.json
var defaultEUTemplate []byte

// MaxEUTemplate bounds a template file.
const MaxEUTemplate = 1 << 20

// Limits on a template, so that a replaced one stays a bounded document.
const (
	maxEUSections = 64
	maxEUFields   = 64 // per section
	maxEUName     = 64
	maxEUText     = 1000
)

// EUTemplate is a data-driven EU Centre report template: sections of
// named fields, each taking its value from a path of the report's source
// document (EUSource, by its JSON names: "provider.name") or a fixed
// value. The EU Centre's template is still a draft (COM(2022) 209,
// Annex III), so a changed template is a change to this file, not to
// code: fields can be renamed, moved, added from any source path, made
// required or not.
type EUTemplate struct {
	Template string      `json:"template"`
	Version  string      `json:"version"`
	Note     string      `json:"note,omitempty"`
	Sections []EUSection `json:"sections"`
}

// EUSection is one section of the template.
type EUSection struct {
	ID     string    `json:"id"`
	Title  string    `json:"title"`
	Basis  string    `json:"basis,omitempty"` // the article the section answers
	Fields []EUField `json:"fields"`
}

// EUField is one field: its value is the source document at From, or
// Value. A required field that is empty (absent, "", [] or {}) refuses
// the report, naming the field.
type EUField struct {
	Name     string          `json:"name"`
	From     string          `json:"from,omitempty"`
	Value    json.RawMessage `json:"value,omitempty"`
	Required bool            `json:"required,omitempty"`
}

// DefaultEUTemplate returns the embedded template. It is parsed once;
// callers must not change it.
func DefaultEUTemplate() *EUTemplate { return parsedDefaultEUTemplate() }

var parsedDefaultEUTemplate = sync.OnceValue(func() *EUTemplate {
	t, err := ParseEUTemplate(defaultEUTemplate)
	if err != nil {
		panic("report: embedded eu template: " + err.Error()) // a build fault, caught by the tests
	}
	return t
})

// ParseEUTemplate reads a template: size-limited, unknown keys refused,
// every path checked against the source document's fields, so that a
// misspelt path is refused when the template is loaded rather than
// rendering an empty field.
func ParseEUTemplate(data []byte) (*EUTemplate, error) {
	if len(data) > MaxEUTemplate {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "eu template is larger than %d bytes", MaxEUTemplate)
	}
	var t EUTemplate
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return nil, vigil.Errorf(vigil.EINVALID, "eu template: %v", err)
	}
	if dec.More() {
		return nil, vigil.Errorf(vigil.EINVALID, "eu template: more than one JSON value")
	}
	if err := t.validate(); err != nil {
		return nil, err
	}
	return &t, nil
}

func euName(s string) bool {
	if s == "" || len(s) > maxEUName {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

func (t *EUTemplate) validate() error {
	bad := func(format string, args ...any) error {
		return vigil.Errorf(vigil.EINVALID, "eu template: "+format, args...)
	}
	if !euName(strings.ReplaceAll(t.Template, "-", "_")) {
		return bad("template must name it in a-z, 0-9, - and _")
	}
	for _, s := range []string{t.Version, t.Note} {
		if len(s) > maxEUText || !vigil.Printable(s) {
			return bad("version and note must be printable, at most %d bytes", maxEUText)
		}
	}
	if len(t.Sections) == 0 || len(t.Sections) > maxEUSections {
		return bad("1 to %d sections", maxEUSections)
	}
	paths := euSourcePaths()
	seen := map[string]bool{}
	for _, s := range t.Sections {
		if !euName(s.ID) || seen[s.ID] {
			return bad("section id %q must be a unique name of a-z, 0-9 and _", s.ID)
		}
		seen[s.ID] = true
		if len(s.Title) > maxEUText || len(s.Basis) > maxEUText || !vigil.Printable(s.Title) || !vigil.Printable(s.Basis) {
			return bad("section %s: title and basis must be printable, at most %d bytes", s.ID, maxEUText)
		}
		if len(s.Fields) == 0 || len(s.Fields) > maxEUFields {
			return bad("section %s: 1 to %d fields", s.ID, maxEUFields)
		}
		names := map[string]bool{}
		for _, f := range s.Fields {
			if !euName(f.Name) || names[f.Name] {
				return bad("section %s: field name %q must be a unique name of a-z, 0-9 and _", s.ID, f.Name)
			}
			names[f.Name] = true
			switch {
			case (f.From == "") == (f.Value == nil):
				return bad("field %s.%s: give either from or value", s.ID, f.Name)
			case f.From != "" && !paths[f.From]:
				return bad("field %s.%s: the source document has no %q", s.ID, f.Name, f.From)
			case f.Value != nil && !json.Valid(f.Value):
				return bad("field %s.%s: value is not JSON", s.ID, f.Name)
			}
		}
	}
	return nil
}

// EUProvider identifies the provider (Art. 13(1)(a)).
type EUProvider struct {
	Name                string `json:"name"`
	Address             string `json:"address,omitempty"`
	MemberState         string `json:"member_state,omitempty"`  // of the main establishment
	ContactPoint        string `json:"contact_point,omitempty"` // Art. 23
	ContactEmail        string `json:"contact_email,omitempty"`
	LegalRepresentative string `json:"legal_representative,omitempty"` // Art. 24, outside the Union
}

// EUConfig is what a deployment states about itself for EU Centre
// reports: facts the incident does not hold.
type EUConfig struct {
	Provider EUProvider `json:"provider"`
	// ReferencePrefix starts the provider's reference of each report
	// (then the incident id).
	ReferencePrefix string `json:"reference_prefix,omitempty"`
	// ContentAction is what the platform does to confirmed content
	// (Art. 13(1)(i)): "removed", "access_disabled" or "none".
	ContentAction string `json:"content_action"`
	// ThirdCountryReports are the third-country authorities the provider
	// reports every incident to (Art. 13(1)(h)), beyond the NCMEC reports
	// Vigil itself finished, which are listed with their report ids.
	ThirdCountryReports []string `json:"third_country_reports,omitempty"`
}

// EUContentActions are the values of EUConfig.ContentAction.
var EUContentActions = []string{"removed", "access_disabled", "none"}

// MaxEUConfig bounds an EU configuration file.
const MaxEUConfig = 1 << 20

// ParseEUConfig reads an EUConfig JSON document: size-limited, unknown
// fields refused, validated.
func ParseEUConfig(data []byte) (*EUConfig, error) {
	if len(data) > MaxEUConfig {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "eu config is larger than %d bytes", MaxEUConfig)
	}
	var c EUConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, vigil.Errorf(vigil.EINVALID, "eu config: %v", err)
	}
	if dec.More() {
		return nil, vigil.Errorf(vigil.EINVALID, "eu config: more than one JSON value")
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate returns an EINVALID error for a config that cannot be used.
// Which fields a report needs is the template's to say (required).
func (c *EUConfig) Validate() error {
	for _, s := range append([]string{c.Provider.Name, c.Provider.Address, c.Provider.MemberState, c.Provider.ContactPoint,
		c.Provider.ContactEmail, c.Provider.LegalRepresentative, c.ReferencePrefix}, c.ThirdCountryReports...) {
		if len(s) > maxEUText || !vigil.Printable(s) {
			return vigil.Errorf(vigil.EINVALID, "eu config: every value must be printable, at most %d bytes", maxEUText)
		}
	}
	if c.ContentAction != "" && !slices.Contains(EUContentActions, c.ContentAction) {
		return vigil.Errorf(vigil.EINVALID, "eu config: content_action must be one of %s", strings.Join(EUContentActions, ", "))
	}
	return nil
}

// EUSource is the source document a template's paths select from: what
// Vigil knows of an incident for an EU Centre report, by the JSON names
// of its fields. docs/reporting-eu.md lists every path.
type EUSource struct {
	Provider EUProvider `json:"provider"`
	Report   struct {
		Reference    string     `json:"reference"`
		IncidentID   int64      `json:"incident_id"`
		CreatedAt    time.Time  `json:"created_at"`
		IncidentTime time.Time  `json:"incident_time"`
		ApprovedBy   string     `json:"approved_by,omitempty"`
		ApprovedAt   *time.Time `json:"approved_at,omitempty"`
	} `json:"report"`
	Type struct {
		// Types are "known_csam", "new_csam", "solicitation" (Art. 13(1)(e)).
		Types         []string `json:"types"`
		IndustryClass []string `json:"industry_classes,omitempty"`
		Labels        []string `json:"labels,omitempty"`
	} `json:"type"`
	Content struct {
		Count         int              `json:"count"`
		Files         []euFile         `json:"files,omitempty"`
		Conversations []euConversation `json:"conversations,omitempty"`
	} `json:"content"`
	Other struct {
		Annotations []string `json:"annotations,omitempty"` // sextortion, csam_solicitation, minor_to_minor
		Notes       string   `json:"notes,omitempty"`
	} `json:"other"`
	Location struct {
		IPEvents []euIP `json:"ip_events,omitempty"`
	} `json:"location"`
	Users struct {
		Reported           *euUser  `json:"reported,omitempty"`
		IntendedRecipients []euUser `json:"intended_recipients,omitempty"`
		Victims            []euUser `json:"victims,omitempty"`
	} `json:"users"`
	ThirdCountry struct {
		Reported bool             `json:"reported"`
		Reports  []euThirdCountry `json:"reports,omitempty"`
	} `json:"third_country"`
	Actions struct {
		Content string `json:"content,omitempty"`
		Account string `json:"account,omitempty"` // suspended, terminated
	} `json:"actions"`
	Urgency struct {
		Urgent bool   `json:"urgent"`
		Reason string `json:"reason,omitempty"`
	} `json:"urgency"`
}

type euFile struct {
	CaseID         int64     `json:"case_id"`
	ContentID      string    `json:"content_id,omitempty"`
	MediaType      string    `json:"media_type,omitempty"`
	SHA256         string    `json:"sha256,omitempty"`
	MD5            string    `json:"md5,omitempty"`
	SHA1           string    `json:"sha1,omitempty"`
	Classification string    `json:"classification,omitempty"`
	Annotations    []string  `json:"annotations,omitempty"`
	Viewed         bool      `json:"viewed_by_provider"`
	Matches        []euMatch `json:"matches"`
}

type euMatch struct {
	Bank       string `json:"bank"`
	EntryID    int64  `json:"entry_id"`
	SignalType string `json:"signal_type"`
	Distance   int    `json:"distance,omitempty"`
	Source     string `json:"source,omitempty"`
}

type euConversation struct {
	CaseID         int64       `json:"case_id"`
	ConversationID string      `json:"conversation_id"`
	Suspect        string      `json:"suspect"`
	Recipients     []string    `json:"intended_recipients,omitempty"`
	Messages       []euMessage `json:"messages"`
}

type euMessage struct {
	Index      int        `json:"index"`
	Speaker    string     `json:"speaker"`
	Time       *time.Time `json:"time,omitempty"`
	Text       string     `json:"text"`
	Indicators []string   `json:"indicators,omitempty"`
}

type euIP struct {
	User          string     `json:"user"`
	IP            string     `json:"ip"`
	Port          int        `json:"port,omitempty"`
	Event         string     `json:"event,omitempty"`
	Time          *time.Time `json:"time,omitempty"`
	PossibleProxy bool       `json:"possible_proxy,omitempty"`
}

type euUser struct {
	ID           string   `json:"id"`
	ScreenName   string   `json:"screen_name,omitempty"`
	DisplayNames []string `json:"display_names,omitempty"`
	Emails       []string `json:"emails,omitempty"`
	ProfileURLs  []string `json:"profile_urls,omitempty"`
	Devices      []string `json:"devices,omitempty"`
}

type euThirdCountry struct {
	Authority string `json:"authority"`
	Reference string `json:"reference,omitempty"`
}

// euSourcePaths lists every path of EUSource a template may use: each
// field, and the fields of nested objects, by JSON name.
func euSourcePaths() map[string]bool {
	paths := map[string]bool{}
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || t == reflect.TypeFor[time.Time]() {
			return
		}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			p := name
			if prefix != "" {
				p = prefix + "." + name
			}
			paths[p] = true
			walk(f.Type, p)
		}
	}
	walk(reflect.TypeFor[EUSource](), "")
	return paths
}

// timePtr keeps a zero time out of the document.
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// EUSourceOf gathers what Vigil knows of inc for an EU Centre report:
// the incident, the account facts of its users, the deployment's config,
// the NCMEC reports it finished (submitted), made at now.
func EUSourceOf(inc *vigil.Incident, facts map[string]*vigil.AccountFacts, cfg EUConfig, submitted []*vigil.Submission, now time.Time) *EUSource {
	s := &EUSource{Provider: cfg.Provider}
	s.Report.Reference = fmt.Sprintf("%sincident-%d", cfg.ReferencePrefix, inc.ID)
	s.Report.IncidentID, s.Report.CreatedAt, s.Report.IncidentTime = inc.ID, now.UTC(), inc.Time.UTC()
	s.Report.ApprovedBy, s.Report.ApprovedAt = inc.ApprovedBy, inc.ApprovedAt

	add := func(list []string, v string) []string {
		if v != "" && !slices.Contains(list, v) {
			list = append(list, v)
		}
		return list
	}
	for _, f := range inc.Files {
		kind := "new_csam" // no list knew it: a reviewer confirmed it
		if len(f.Matches) > 0 {
			kind = "known_csam"
		}
		s.Type.Types = add(s.Type.Types, kind)
		s.Type.IndustryClass = add(s.Type.IndustryClass, f.Classification)
		ef := euFile{CaseID: f.CaseID, ContentID: f.ContentID, MediaType: f.MediaType, SHA256: f.SHA256, MD5: f.MD5, SHA1: f.SHA1,
			Classification: f.Classification, Annotations: f.Annotations, Viewed: f.Viewed, Matches: []euMatch{}}
		for _, m := range f.Matches {
			ef.Matches = append(ef.Matches, euMatch{Bank: m.Bank, EntryID: m.EntryID, SignalType: string(m.SignalType), Distance: m.Distance, Source: m.Source})
		}
		s.Content.Files = append(s.Content.Files, ef)
	}
	for _, c := range inc.Conversations {
		s.Type.Types = add(s.Type.Types, "solicitation")
		ec := euConversation{CaseID: c.CaseID, ConversationID: c.ConversationID, Suspect: c.Suspect, Recipients: c.IntendedRecipients, Messages: []euMessage{}}
		for _, m := range c.Messages {
			ec.Messages = append(ec.Messages, euMessage{Index: m.Index, Speaker: m.Speaker, Time: timePtr(m.Time), Text: m.Text, Indicators: m.Indicators})
		}
		s.Content.Conversations = append(s.Content.Conversations, ec)
	}
	s.Content.Count = len(inc.Files) + len(inc.Conversations)
	s.Type.Labels = inc.Labels
	for _, a := range []struct {
		on   bool
		name string
	}{{inc.Sextortion, "sextortion"}, {inc.CSAMSolicitation, "csam_solicitation"}, {inc.MinorToMinor, "minor_to_minor"}} {
		if a.on {
			s.Other.Annotations = append(s.Other.Annotations, a.name)
		}
	}
	s.Other.Notes = inc.Notes

	user := func(id string) euUser {
		u := euUser{ID: id}
		f := facts[id]
		if f == nil {
			return u
		}
		u.ScreenName, u.DisplayNames, u.ProfileURLs = f.ScreenName, f.DisplayNames, f.ProfileURLs
		for _, e := range f.Emails {
			u.Emails = append(u.Emails, e.Address)
		}
		for _, d := range f.Devices {
			u.Devices = append(u.Devices, d.Type+": "+d.Value)
		}
		for _, ip := range f.IPs {
			s.Location.IPEvents = append(s.Location.IPEvents, euIP{User: id, IP: ip.IP, Port: ip.Port, Event: ip.Event, Time: timePtr(ip.Time), PossibleProxy: ip.PossibleProxy})
		}
		return u
	}
	reported := user(inc.ReportedUser)
	s.Users.Reported = &reported
	var recipients []string
	for _, c := range inc.Conversations {
		for _, r := range c.IntendedRecipients {
			recipients = add(recipients, r)
		}
	}
	for _, r := range recipients {
		s.Users.IntendedRecipients = append(s.Users.IntendedRecipients, user(r))
	}
	for _, v := range inc.Victims {
		if !slices.Contains(recipients, v) {
			s.Users.Victims = append(s.Users.Victims, user(v))
		} else {
			s.Users.Victims = append(s.Users.Victims, euUser{ID: v}) // its facts are listed with the recipients
		}
	}

	for _, sub := range submitted {
		if sub.Destination == DestinationNCMEC && sub.State == vigil.SubmissionFinished && sub.ReportID != 0 {
			s.ThirdCountry.Reports = append(s.ThirdCountry.Reports, euThirdCountry{Authority: "NCMEC CyberTipline (US)", Reference: fmt.Sprint(sub.ReportID)})
		}
	}
	for _, a := range cfg.ThirdCountryReports {
		if !slices.ContainsFunc(s.ThirdCountry.Reports, func(r euThirdCountry) bool { return strings.HasPrefix(r.Authority, a) }) {
			s.ThirdCountry.Reports = append(s.ThirdCountry.Reports, euThirdCountry{Authority: a})
		}
	}
	s.ThirdCountry.Reported = len(s.ThirdCountry.Reports) > 0

	s.Actions.Content = cfg.ContentAction
	if f := facts[inc.ReportedUser]; f != nil && f.Disabled != nil {
		s.Actions.Account = "suspended"
		if f.Disabled.Permanent {
			s.Actions.Account = "terminated"
		}
	}
	s.Urgency.Urgent, s.Urgency.Reason = inc.Urgent != "", inc.Urgent
	return s
}

// euDoc is a rendered report: the template's sections in order, each
// field in order.
type euDoc struct {
	Template string         `json:"template"`
	Version  string         `json:"version"`
	Sections []euDocSection `json:"sections"`
}

type euDocSection struct {
	ID     string   `json:"id"`
	Title  string   `json:"title"`
	Basis  string   `json:"basis,omitempty"`
	Fields euFields `json:"fields"`
}

// euFields is a JSON object whose keys keep the template's order.
type euFields []euValue

type euValue struct {
	name  string
	value json.RawMessage
}

func (f euFields) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, v := range f {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(v.name)
		b.Write(k)
		b.WriteByte(':')
		b.Write(v.value)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// lookup returns the value at a dotted path of a decoded document, nil
// when a step is missing.
func lookup(doc any, path string) any {
	for _, k := range strings.Split(path, ".") {
		m, ok := doc.(map[string]any)
		if !ok {
			return nil
		}
		doc = m[k]
	}
	return doc
}

func empty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return false
}

// RenderEU renders src with t (nil: the default template) as indented
// JSON. Fields without a value are left out; every empty required field
// is named in one EINVALID error, so a report is refused whole, saying
// what to fill in.
func RenderEU(t *EUTemplate, src *EUSource) ([]byte, error) {
	if t == nil {
		t = DefaultEUTemplate()
	}
	raw, err := json.Marshal(src)
	if err != nil {
		return nil, fmt.Errorf("encode eu source: %w", err)
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("decode eu source: %w", err)
	}
	out := euDoc{Template: t.Template, Version: t.Version}
	var missing []string
	for _, s := range t.Sections {
		ds := euDocSection{ID: s.ID, Title: s.Title, Basis: s.Basis, Fields: euFields{}}
		for _, f := range s.Fields {
			var v json.RawMessage
			if f.Value != nil {
				v = f.Value
			} else if x := lookup(doc, f.From); !empty(x) {
				if v, err = json.Marshal(x); err != nil {
					return nil, fmt.Errorf("encode eu field %s.%s: %w", s.ID, f.Name, err)
				}
			}
			if v == nil || empty(decodeRaw(v)) {
				if f.Required {
					what := s.ID + "." + f.Name
					if s.Basis != "" {
						what += " (" + s.Basis + ")"
					}
					missing = append(missing, what)
				}
				continue
			}
			ds.Fields = append(ds.Fields, euValue{name: f.Name, value: v})
		}
		out.Sections = append(out.Sections, ds)
	}
	if len(missing) > 0 {
		return nil, vigil.Errorf(vigil.EINVALID, "eu report: required %s empty: %s", plural(len(missing), "field is", "fields are"), strings.Join(missing, ", "))
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode eu report: %w", err)
	}
	return append(b, '\n'), nil
}

func decodeRaw(v json.RawMessage) any {
	var x any
	if json.Unmarshal(v, &x) != nil {
		return nil
	}
	return x
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// EU renders incidents as EU Centre reports from a template. There is no
// EU Centre to send them to yet: the webhook destination carries them.
type EU struct {
	Config   EUConfig
	Template *EUTemplate // nil: the embedded default
	// Submissions, when set, lists the incident's finished NCMEC reports
	// as reports to a third-country authority (Art. 13(1)(h)).
	Submissions vigil.SubmissionService
	Now         func() time.Time // nil: time.Now
}

// Render renders inc and validates it against the template's required
// fields: an empty required field makes Valid false, naming it.
func (e *EU) Render(ctx context.Context, incidents vigil.IncidentService, inc *vigil.Incident) (*Rendering, error) {
	facts, err := Facts(ctx, incidents, inc)
	if err != nil {
		return nil, err
	}
	var subs []*vigil.Submission
	if e.Submissions != nil {
		if subs, err = e.Submissions.IncidentSubmissions(ctx, inc.ID); err != nil {
			return nil, err
		}
	}
	now := time.Now()
	if e.Now != nil {
		now = e.Now()
	}
	out := &Rendering{Format: "eu"}
	doc, err := RenderEU(e.Template, EUSourceOf(inc, facts, e.Config, subs, now))
	if vigil.ErrorCode(err) == vigil.EINVALID {
		out.Error = vigil.ErrorMessage(err)
		return out, nil
	} else if err != nil {
		return nil, err
	}
	out.Report, out.Valid = string(doc), true
	return out, nil
}
