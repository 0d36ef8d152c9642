package vigil

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Audit actions of incidents and the account facts they reference.
const (
	AuditIncidentCreate  = "incident.create"
	AuditIncidentUpdate  = "incident.update"
	AuditIncidentApprove = "incident.approve"
	AuditAccountFacts    = "account.facts"
)

// IncidentState is where an incident is on its way to a centre.
type IncidentState string

// Incident states. An incident is built as a draft, which reviewers and
// curators may edit; it is approved by one of them, and only an approved
// incident may be sent. Editing is refused once it is approved: what was
// approved is what is sent.
const (
	IncidentDraft    IncidentState = "draft"
	IncidentApproved IncidentState = "approved"
)

// Industry classification of a file (the Industry Hash Sharing MOU
// scheme NCMEC's fileDetails carries): A prepubescent, B pubescent; 1 a
// sex act, 2 lascivious exhibition.
var IndustryClasses = []string{"A1", "A2", "B1", "B2"}

// LabelDimension is one dimension of the incident label vocabulary, the
// second vocabulary of classification beside the industry classes: the
// facts INHOPE's hotlines record of assessed material in ICCAM.
type LabelDimension struct {
	Name    string       `json:"name"`
	Meaning string       `json:"meaning"`
	Values  []LabelValue `json:"values"`
}

// LabelValue is one value of a LabelDimension.
type LabelValue struct {
	Name    string `json:"name"`
	Meaning string `json:"meaning"`
}

// IncidentLabels is the label vocabulary; a label is written
// DIMENSION:VALUE ("legality:baseline").
//
// INHOPE's Universal Classification Schema (version 3, 2024) is the
// authority hotlines now annotate with, but its labels and definitions
// are given to trained, approved stakeholders, not published. This is the
// closest documented vocabulary: what INHOPE publishes of ICCAM's
// assessment. Legality is the ICCAM choice each image or video gets
// ("baseline (internationally illegal according to INTERPOL's criteria),
// nationally illegal or not illegal": inhope.org, "The power to arrest
// the producers, distributors and consumers"); age groups and gender are
// the categories INHOPE's annual reports and its facts page
// (inhope.org/EN/the-facts) count victims by; content type is what ICCAM
// exchanges (images and videos), with text for conversations, which
// Vigil also reports. Replace or extend the table when the Schema's
// labels are available to the deployment.
var IncidentLabels = []LabelDimension{
	{Name: "legality", Meaning: "the assessment of the material's legality, as ICCAM records it", Values: []LabelValue{
		{"baseline", "illegal in every country: meets INTERPOL's baseline criteria"},
		{"national", "illegal under the law of the assessing country, not baseline"},
		{"not-illegal", "assessed and found not illegal"},
	}},
	{Name: "age", Meaning: "the apparent age group of the child depicted or addressed", Values: []LabelValue{
		{"infant-toddler", "an infant or toddler"},
		{"pre-pubescent", "a pre-pubescent child"},
		{"pubescent", "a pubescent child"},
	}},
	{Name: "gender", Meaning: "the gender of the children depicted", Values: []LabelValue{
		{"female", "girls"},
		{"male", "boys"},
		{"both", "children of both genders"},
	}},
	{Name: "content", Meaning: "the kind of content reported", Values: []LabelValue{
		{"image", "an image"},
		{"video", "a video"},
		{"text", "text: a conversation or messages"},
	}},
}

// CanonicalLabel returns l as a label of IncidentLabels, DIMENSION:VALUE
// in lower case; a bare VALUE names the one dimension that has it. An
// unknown label is EINVALID, naming it.
func CanonicalLabel(l string) (string, error) {
	l = strings.ToLower(strings.TrimSpace(l))
	dim, value, qualified := strings.Cut(l, ":")
	if !qualified {
		dim, value = "", l
	}
	for _, d := range IncidentLabels {
		if qualified && d.Name != dim {
			continue
		}
		for _, v := range d.Values {
			if v.Name == value {
				return d.Name + ":" + v.Name, nil
			}
		}
	}
	known := make([]string, 0, len(IncidentLabels))
	for _, d := range IncidentLabels {
		names := make([]string, len(d.Values))
		for i, v := range d.Values {
			names[i] = v.Name
		}
		known = append(known, d.Name+":"+strings.Join(names, "|"))
	}
	if len(l) > MaxEntryFieldLen || !Printable(l) {
		return "", Errorf(EINVALID, "unknown label of %d bytes: labels are %s", len(l), strings.Join(known, ", "))
	}
	return "", Errorf(EINVALID, "unknown label %q: labels are %s", l, strings.Join(known, ", "))
}

// IndustryClassLabel returns the label an industry class implies, or ""
// for none: the class's letter is the age group (A pre-pubescent, B
// pubescent). Its number (a sex act or lascivious exhibition) has no
// counterpart in IncidentLabels, nor does any class imply a legality:
// baseline is an assessment against INTERPOL's criteria that the class
// alone does not make.
func IndustryClassLabel(class string) string {
	switch class {
	case "A1", "A2":
		return "age:pre-pubescent"
	case "B1", "B2":
		return "age:pubescent"
	}
	return ""
}

// suggestLabels returns the labels inc's files and conversations imply
// (IndustryClassLabel, and each file's content type), in IncidentLabels'
// order: a suggestion the reviewer keeps or changes before approval.
func suggestLabels(inc *Incident) []string {
	implied := map[string]bool{}
	for _, f := range inc.Files {
		if l := IndustryClassLabel(f.Classification); l != "" {
			implied[l] = true
		}
		switch {
		case strings.HasPrefix(f.MediaType, "image/"):
			implied["content:image"] = true
		case strings.HasPrefix(f.MediaType, "video/"):
			implied["content:video"] = true
		}
	}
	if len(inc.Conversations) > 0 {
		implied["content:text"] = true
	}
	var out []string
	for _, d := range IncidentLabels {
		for _, v := range d.Values {
			if l := d.Name + ":" + v.Name; implied[l] {
				out = append(out, l)
			}
		}
	}
	return out
}

// File annotations known to NCMEC's fileDetails/fileAnnotations.
var FileAnnotations = []string{
	"animeDrawingVirtualHentai", "potentialMeme", "viral", "possibleSelfProduction",
	"physicalHarm", "violenceGore", "bestiality", "liveStreaming", "infant", "generativeAi",
}

// Limits on incidents, so that one incident stays a bounded record.
const (
	MaxIncidentCases    = 100
	MaxIncidentLabels   = 32
	MaxIncidentTextLen  = 3000 // NCMEC's limit on escalateToHighPriority and free text
	MaxAccountListItems = 200  // each list of account facts
)

// IncidentFile is one file of an incident: the content of one confirmed
// match case, with its hashes, the matches that found it (with their
// provenance) and the reviewer's classification.
type IncidentFile struct {
	CaseID    int64  `json:"case_id"`
	SHA256    string `json:"sha256,omitempty"`
	MD5       string `json:"md5,omitempty"`
	SHA1      string `json:"sha1,omitempty"`
	MediaType string `json:"media_type,omitempty"`
	MediaID   string `json:"media_id,omitempty"` // blob in the media store, uploaded with the report
	ContentID string `json:"content_id,omitempty"`
	// Matches are the case's matches: which bank, which entry, its source.
	Matches []Match `json:"matches"`
	// Classification is the industry class (IndustryClasses) or "".
	Classification string `json:"classification,omitempty"`
	// Annotations are NCMEC file annotations (FileAnnotations).
	Annotations []string `json:"annotations,omitempty"`
	// Viewed says a person at the platform looked at the file (a reviewer
	// revealed the case's media); unviewed files are reported as such.
	Viewed bool `json:"viewed"`
}

// IncidentMessage is one message of a conversation excerpt.
type IncidentMessage struct {
	Index      int       `json:"index"`
	Speaker    string    `json:"speaker"`
	Text       string    `json:"text"`
	Time       time.Time `json:"time,omitzero"`
	Indicators []string  `json:"indicators,omitempty"`
}

// IncidentConversation is the excerpt of a confirmed conversation case:
// the messages that carry the indicators, who the suspect is and who the
// messages were meant for (the possible victim).
type IncidentConversation struct {
	CaseID             int64             `json:"case_id"`
	ConversationID     string            `json:"conversation_id"`
	Suspect            string            `json:"suspect"`
	IntendedRecipients []string          `json:"intended_recipients,omitempty"`
	Messages           []IncidentMessage `json:"messages"`
}

// Incident is one or more confirmed cases about the same reported user,
// packaged for a centre: one incident renders to several report formats.
type Incident struct {
	ID    int64         `json:"id"`
	State IncidentState `json:"state"`
	// ReportedUser is the platform's id of the reported user: the uploader
	// of the files, the suspect of the conversations.
	ReportedUser  string                  `json:"reported_user"`
	CaseIDs       []int64                 `json:"case_ids"`
	Files         []IncidentFile          `json:"files,omitempty"`
	Conversations []*IncidentConversation `json:"conversations,omitempty"`
	// Time is when the incident happened: the earliest case opening (or
	// message time) unless a reviewer sets it.
	Time time.Time `json:"time"`
	// Urgent, when set, is why the incident needs immediate action (a
	// child at risk now); it becomes NCMEC's escalateToHighPriority.
	Urgent string `json:"urgent,omitempty"`
	// Sextortion, CSAMSolicitation and MinorToMinor are the reviewer's
	// report annotations.
	Sextortion       bool `json:"sextortion,omitempty"`
	CSAMSolicitation bool `json:"csam_solicitation,omitempty"`
	MinorToMinor     bool `json:"minor_to_minor,omitempty"`
	// Victims are the platform ids of the users the reviewer believes
	// are children harmed or put at risk (usually intended recipients);
	// set by a reviewer, never guessed.
	Victims []string `json:"victims,omitempty"`
	// Labels are the second vocabulary of classification, INHOPE-style
	// (IncidentLabels: "legality:baseline", "age:pubescent", …), kept
	// with the incident and carried into the EU Centre report. NCMEC's
	// schema has no element for them (its industryClassification and the
	// infant file annotation say what it asks of age).
	Labels []string `json:"labels,omitempty"`
	// Notes become the report's additional information.
	Notes string `json:"notes,omitempty"`

	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	ApprovedBy string     `json:"approved_by,omitempty"`
	ApprovedAt *time.Time `json:"approved_at,omitempty"`
	// PurgedAt is when retention ended and the incident's evidence was
	// deleted (PreservationService.PurgeIncident); a purged incident is
	// never sent.
	PurgedAt *time.Time `json:"purged_at,omitempty"`
}

// Users returns the platform ids of every user inc names, each once: the
// reported user, the victims and the conversations' intended recipients.
// These are the users whose account facts a report carries, and whose
// facts go when the last incident naming them is purged.
func (inc *Incident) Users() []string {
	var users []string
	add := func(u string) {
		if u != "" && !slices.Contains(users, u) {
			users = append(users, u)
		}
	}
	add(inc.ReportedUser)
	for _, v := range inc.Victims {
		add(v)
	}
	for _, c := range inc.Conversations {
		for _, r := range c.IntendedRecipients {
			add(r)
		}
	}
	return users
}

// Enticement reports whether the incident is about grooming or
// solicitation (it holds a conversation) rather than known imagery alone.
func (inc *Incident) Enticement() bool { return len(inc.Conversations) > 0 }

// NewIncident builds a draft incident from cases: each must be decided
// confirmed and all must be about the same reported user (NCMEC wants one
// report per suspect, with all its media). Match cases become files,
// conversation cases excerpts with their suspect and intended recipients.
// The reviewer's category of a case's decision becomes its files'
// classification when it is an industry class.
func NewIncident(cases []*Case) (*Incident, error) {
	if len(cases) == 0 {
		return nil, Errorf(EINVALID, "an incident needs at least one confirmed case")
	}
	if len(cases) > MaxIncidentCases {
		return nil, Errorf(ETOOLARGE, "an incident holds at most %d cases", MaxIncidentCases)
	}
	// In case order, so that the same cases make the same incident.
	cases = slices.Clone(cases)
	slices.SortFunc(cases, func(a, b *Case) int { return cmp.Compare(a.ID, b.ID) })
	inc := &Incident{State: IncidentDraft}
	seen := map[int64]bool{}
	for _, c := range cases {
		if seen[c.ID] {
			return nil, Errorf(EINVALID, "case %d given twice", c.ID)
		}
		seen[c.ID] = true
		if c.Decision == nil || c.Decision.Verdict != VerdictConfirmed {
			return nil, Errorf(ECONFLICT, "case %d is not confirmed", c.ID)
		}
		user := c.Content.UserID
		if c.Kind == CaseKindConversation && c.Conversation != nil && c.Conversation.Suspect != "" {
			user = c.Conversation.Suspect
		}
		if c.Kind == CaseKindConversation && c.Conversation != nil && c.Conversation.DisclosedBy != "" && user == c.Conversation.DisclosedBy {
			// The account a victim gave must not make them the reported user.
			return nil, Errorf(EINVALID, "case %d is a disclosure by %q, a possible victim: it names no user to report", c.ID, user)
		}
		if user == "" {
			return nil, Errorf(EINVALID, "case %d does not say which user it is about", c.ID)
		}
		if inc.ReportedUser == "" {
			inc.ReportedUser = user
		} else if user != inc.ReportedUser {
			return nil, Errorf(EINVALID, "case %d is about user %q, not %q: one incident per reported user", c.ID, user, inc.ReportedUser)
		}
		inc.CaseIDs = append(inc.CaseIDs, c.ID)
		if inc.Time.IsZero() || c.CreatedAt.Before(inc.Time) {
			inc.Time = c.CreatedAt
		}
		switch c.Kind {
		case CaseKindMatch, CaseKindClassifier:
			// A confirmed classifier case is a file no list knew: reported
			// like a matched one, with no matches.
			inc.Files = append(inc.Files, incidentFile(c))
		case CaseKindConversation:
			ic := incidentConversation(c)
			if len(ic.Messages) > 0 && !ic.Messages[0].Time.IsZero() && ic.Messages[0].Time.Before(inc.Time) {
				inc.Time = ic.Messages[0].Time
			}
			inc.Conversations = append(inc.Conversations, ic)
			// A suggestion for the draft: the reviewer keeps or clears it
			// before approval.
			if c.Conversation != nil && c.Conversation.Sextortion {
				inc.Sextortion = true
			}
		default:
			return nil, Errorf(EINVALID, "case %d has unknown kind %q", c.ID, c.Kind)
		}
	}
	inc.Labels = suggestLabels(inc)
	return inc, nil
}

func incidentFile(c *Case) IncidentFile {
	f := IncidentFile{
		CaseID: c.ID, SHA256: strings.ToLower(c.Content.SHA256), MediaType: c.Content.MediaType,
		MediaID: c.Content.MediaID, ContentID: c.Content.ContentID, Matches: slices.Clone(c.Matches),
	}
	// An exact match's entry value is the file's own digest; a PDQ match's
	// is the listed hash, near the file's, so it is provenance, not a hash
	// of the file.
	for _, m := range c.Matches {
		switch m.SignalType {
		case SignalMD5:
			f.MD5 = m.Value
		case SignalSHA1:
			f.SHA1 = m.Value
		case SignalSHA256:
			if f.SHA256 == "" {
				f.SHA256 = m.Value
			}
		}
	}
	if cat := strings.ToUpper(strings.TrimSpace(c.Decision.Category)); slices.Contains(IndustryClasses, cat) {
		f.Classification = cat
	}
	// The file's own declaration of a generative source suggests NCMEC's
	// annotation; the reviewer approving the incident can remove it.
	if c.Content.GenerativeAI != nil {
		f.Annotations = []string{"generativeAi"}
	}
	return f
}

func incidentConversation(c *Case) *IncidentConversation {
	cv := c.Conversation
	ic := &IncidentConversation{CaseID: c.ID, ConversationID: cv.ConversationID, Suspect: cv.Suspect}
	for _, m := range cv.Messages {
		if m.Speaker != "" && m.Speaker != cv.Suspect && !slices.Contains(ic.IntendedRecipients, m.Speaker) {
			ic.IntendedRecipients = append(ic.IntendedRecipients, m.Speaker)
		}
		// The excerpt is what carries the indicators: a reviewer confirmed
		// those, and the rest of the conversation is not sent.
		if len(m.Indicators) > 0 {
			ic.Messages = append(ic.Messages, IncidentMessage{
				Index: m.Index, Speaker: m.Speaker, Text: m.Text, Time: m.Time, Indicators: slices.Clone(m.Indicators),
			})
		}
	}
	if len(ic.Messages) == 0 {
		// A confirmed conversation without tagged messages (the reviewer
		// saw what the tagger missed): keep it all rather than nothing.
		for _, m := range cv.Messages {
			ic.Messages = append(ic.Messages, IncidentMessage{Index: m.Index, Speaker: m.Speaker, Text: m.Text, Time: m.Time})
		}
	}
	return ic
}

// IncidentEdit is a change to a draft incident: nil fields are kept.
type IncidentEdit struct {
	Time             *time.Time `json:"time,omitempty"`
	Urgent           *string    `json:"urgent,omitempty"`
	Sextortion       *bool      `json:"sextortion,omitempty"`
	CSAMSolicitation *bool      `json:"csam_solicitation,omitempty"`
	MinorToMinor     *bool      `json:"minor_to_minor,omitempty"`
	Labels           *[]string  `json:"labels,omitempty"`
	Victims          *[]string  `json:"victims,omitempty"`
	Notes            *string    `json:"notes,omitempty"`
	// Files sets the classification and annotations of files, by case id.
	Files []IncidentFileEdit `json:"files,omitempty"`
	// IntendedRecipients sets a conversation's intended recipients, by
	// case id.
	Recipients []IncidentRecipientEdit `json:"recipients,omitempty"`
}

// IncidentFileEdit sets the reviewer's judgement of one file.
type IncidentFileEdit struct {
	CaseID         int64     `json:"case_id"`
	Classification *string   `json:"classification,omitempty"`
	Annotations    *[]string `json:"annotations,omitempty"`
}

// IncidentRecipientEdit sets who a conversation's messages were meant for.
type IncidentRecipientEdit struct {
	CaseID     int64    `json:"case_id"`
	Recipients []string `json:"recipients"`
}

// Apply makes the edit on inc and validates the result.
func (e *IncidentEdit) Apply(inc *Incident) error {
	if e.Time != nil {
		inc.Time = e.Time.UTC()
	}
	if e.Urgent != nil {
		inc.Urgent = *e.Urgent
	}
	if e.Sextortion != nil {
		inc.Sextortion = *e.Sextortion
	}
	if e.CSAMSolicitation != nil {
		inc.CSAMSolicitation = *e.CSAMSolicitation
	}
	if e.MinorToMinor != nil {
		inc.MinorToMinor = *e.MinorToMinor
	}
	if e.Labels != nil {
		if len(*e.Labels) > MaxIncidentLabels {
			return Errorf(EINVALID, "an incident has at most %d labels", MaxIncidentLabels)
		}
		inc.Labels = nil
		for _, l := range *e.Labels {
			c, err := CanonicalLabel(l)
			if err != nil {
				return err
			}
			if !slices.Contains(inc.Labels, c) {
				inc.Labels = append(inc.Labels, c)
			}
		}
	}
	if e.Notes != nil {
		inc.Notes = *e.Notes
	}
	if e.Victims != nil {
		inc.Victims = slices.Clone(*e.Victims)
	}
	for _, fe := range e.Files {
		i := slices.IndexFunc(inc.Files, func(f IncidentFile) bool { return f.CaseID == fe.CaseID })
		if i < 0 {
			return Errorf(EINVALID, "incident has no file of case %d", fe.CaseID)
		}
		if fe.Classification != nil {
			inc.Files[i].Classification = strings.ToUpper(strings.TrimSpace(*fe.Classification))
		}
		if fe.Annotations != nil {
			inc.Files[i].Annotations = slices.Clone(*fe.Annotations)
		}
	}
	for _, re := range e.Recipients {
		i := slices.IndexFunc(inc.Conversations, func(c *IncidentConversation) bool { return c.CaseID == re.CaseID })
		if i < 0 {
			return Errorf(EINVALID, "incident has no conversation of case %d", re.CaseID)
		}
		inc.Conversations[i].IntendedRecipients = slices.Clone(re.Recipients)
	}
	return inc.Validate()
}

// Validate returns an EINVALID error if inc cannot be stored.
func (inc *Incident) Validate() error {
	if inc.ReportedUser == "" || len(inc.ReportedUser) > MaxEntryFieldLen || !Printable(inc.ReportedUser) {
		return Errorf(EINVALID, "incident reported user must be 1 to %d printable bytes", MaxEntryFieldLen)
	}
	if len(inc.CaseIDs) == 0 || len(inc.CaseIDs) > MaxIncidentCases {
		return Errorf(EINVALID, "an incident holds 1 to %d cases", MaxIncidentCases)
	}
	if inc.Time.IsZero() {
		return Errorf(EINVALID, "incident time is required")
	}
	for _, f := range []struct{ name, v string }{{"urgent", inc.Urgent}, {"notes", inc.Notes}} {
		if utf8.RuneCountInString(f.v) > MaxIncidentTextLen || !utf8.ValidString(f.v) {
			return Errorf(EINVALID, "incident %s must be UTF-8 of at most %d characters", f.name, MaxIncidentTextLen)
		}
	}
	if len(inc.Labels) > MaxIncidentLabels {
		return Errorf(EINVALID, "an incident has at most %d labels", MaxIncidentLabels)
	}
	for _, l := range inc.Labels {
		if c, err := CanonicalLabel(l); err != nil {
			return err
		} else if c != l {
			return Errorf(EINVALID, "incident label %q must be written %q", l, c)
		}
	}
	for _, f := range inc.Files {
		if f.Classification != "" && !slices.Contains(IndustryClasses, f.Classification) {
			return Errorf(EINVALID, "file of case %d: classification must be one of %s", f.CaseID, strings.Join(IndustryClasses, ", "))
		}
		for _, a := range f.Annotations {
			if !slices.Contains(FileAnnotations, a) {
				return Errorf(EINVALID, "file of case %d: unknown annotation %q", f.CaseID, a)
			}
		}
	}
	if len(inc.Victims) > MaxAccountListItems {
		return Errorf(EINVALID, "an incident names at most %d victims", MaxAccountListItems)
	}
	for _, v := range inc.Victims {
		if v == "" || len(v) > MaxEntryFieldLen || !Printable(v) {
			return Errorf(EINVALID, "victim must be 1 to %d printable bytes", MaxEntryFieldLen)
		}
	}
	for _, c := range inc.Conversations {
		if len(c.IntendedRecipients) > MaxAccountListItems {
			return Errorf(EINVALID, "conversation of case %d: too many recipients", c.CaseID)
		}
		for _, r := range c.IntendedRecipients {
			if r == "" || len(r) > MaxEntryFieldLen || !Printable(r) {
				return Errorf(EINVALID, "conversation of case %d: recipient must be 1 to %d printable bytes", c.CaseID, MaxEntryFieldLen)
			}
		}
	}
	return nil
}

// IP capture event names NCMEC knows.
var IPEventNames = []string{"Login", "Registration", "Purchase", "Upload", "Other", "Unknown"}

// IPEvent is an IP address a user was seen at.
type IPEvent struct {
	IP            string    `json:"ip"`
	Port          int       `json:"port,omitempty"`
	Event         string    `json:"event,omitempty"` // one of IPEventNames
	Time          time.Time `json:"time,omitzero"`
	PossibleProxy bool      `json:"possible_proxy,omitempty"`
}

// DeviceEvent is a device id a user was seen with.
type DeviceEvent struct {
	Type  string    `json:"type"` // e.g. "IDFA", "Android ID"
	Value string    `json:"value"`
	Event string    `json:"event,omitempty"`
	Time  time.Time `json:"time,omitzero"`
}

// AccountEmail is an email address of an account.
type AccountEmail struct {
	Address  string `json:"address"`
	Verified bool   `json:"verified,omitempty"`
}

// AccountDisabled says whether and when the platform disabled an account.
type AccountDisabled struct {
	Permanent bool      `json:"permanent"`
	At        time.Time `json:"at,omitzero"`
}

// AccountFacts are what a platform holds about one of its users and has
// given Vigil for reports: an incident references them through its users'
// ids and never makes any up.
type AccountFacts struct {
	UserID       string           `json:"user_id"`
	ScreenName   string           `json:"screen_name,omitempty"`
	DisplayNames []string         `json:"display_names,omitempty"`
	ProfileURLs  []string         `json:"profile_urls,omitempty"`
	Emails       []AccountEmail   `json:"emails,omitempty"`
	IPs          []IPEvent        `json:"ips,omitempty"`
	Devices      []DeviceEvent    `json:"devices,omitempty"`
	Disabled     *AccountDisabled `json:"disabled,omitempty"`
	UpdatedAt    time.Time        `json:"updated_at"`
}

// Merge adds what more holds to f: lists gain the items f lacks, set
// fields replace f's. The platform sends facts as it learns them.
func (f *AccountFacts) Merge(more *AccountFacts) {
	if more.ScreenName != "" {
		f.ScreenName = more.ScreenName
	}
	f.DisplayNames = mergeList(f.DisplayNames, more.DisplayNames)
	f.ProfileURLs = mergeList(f.ProfileURLs, more.ProfileURLs)
	f.Emails = mergeList(f.Emails, more.Emails)
	f.IPs = mergeList(f.IPs, more.IPs)
	f.Devices = mergeList(f.Devices, more.Devices)
	if more.Disabled != nil {
		d := *more.Disabled
		f.Disabled = &d
	}
}

func mergeList[T comparable](have, more []T) []T {
	for _, v := range more {
		if !slices.Contains(have, v) {
			have = append(have, v)
		}
	}
	return have
}

// Validate returns an EINVALID error if f cannot be stored.
func (f *AccountFacts) Validate() error {
	field := func(name, v string, required bool) error {
		if required && v == "" || len(v) > MaxEntryFieldLen || !Printable(v) {
			return Errorf(EINVALID, "account %s must be at most %d printable bytes", name, MaxEntryFieldLen)
		}
		return nil
	}
	if err := field("user_id", f.UserID, true); err != nil {
		return err
	}
	if err := field("screen_name", f.ScreenName, false); err != nil {
		return err
	}
	if max(len(f.DisplayNames), len(f.ProfileURLs), len(f.Emails), len(f.IPs), len(f.Devices)) > MaxAccountListItems {
		return Errorf(ETOOLARGE, "account facts hold at most %d items per list", MaxAccountListItems)
	}
	for _, v := range f.DisplayNames {
		if err := field("display name", v, true); err != nil {
			return err
		}
	}
	for _, v := range f.ProfileURLs {
		// NCMEC refuses white space in URLs (code 4100).
		if err := field("profile url", v, true); err != nil || strings.ContainsAny(v, " \t") {
			return Errorf(EINVALID, "account profile url must be a printable URL without spaces")
		}
	}
	for _, e := range f.Emails {
		if err := field("email", e.Address, true); err != nil || !strings.Contains(e.Address, "@") {
			return Errorf(EINVALID, "account email %q is not an address", e.Address)
		}
	}
	for _, ip := range f.IPs {
		if err := field("ip", ip.IP, true); err != nil {
			return err
		}
		if ip.Event != "" && !slices.Contains(IPEventNames, ip.Event) {
			return Errorf(EINVALID, "ip event must be one of %s", strings.Join(IPEventNames, ", "))
		}
		if ip.Port < 0 || ip.Port > 65535 {
			return Errorf(EINVALID, "ip port must be 0 to 65535")
		}
	}
	for _, d := range f.Devices {
		if err := field("device type", d.Type, true); err != nil {
			return err
		}
		if err := field("device id", d.Value, true); err != nil {
			return err
		}
		if d.Event != "" && !slices.Contains(IPEventNames, d.Event) {
			return Errorf(EINVALID, "device event must be one of %s", strings.Join(IPEventNames, ", "))
		}
	}
	return nil
}

// IncidentFilter selects incidents for a list, in id order after AfterID.
type IncidentFilter struct {
	States  []IncidentState
	AfterID int64
	Limit   int // 0 means DefaultCaseLimit; above MaxCaseLimit lowered to it
}

// IncidentService stores incidents and the account facts they reference.
type IncidentService interface {
	// CreateIncident stores inc as a draft made by actor, setting ID,
	// State, CreatedAt and UpdatedAt. In the same transaction it checks
	// that every case is still decided confirmed (ECONFLICT otherwise) and
	// in no other incident (ECONFLICT: a case is reported once).
	CreateIncident(ctx context.Context, inc *Incident, actor string) error
	FindIncident(ctx context.Context, id int64) (*Incident, error)
	ListIncidents(ctx context.Context, f IncidentFilter) ([]*Incident, error)
	// UpdateIncident applies e to a draft incident (ECONFLICT once
	// approved) and returns the result.
	UpdateIncident(ctx context.Context, id int64, e IncidentEdit) (*Incident, error)
	// ApproveIncident approves a draft: from then on it is what may be
	// sent. ECONFLICT if it is not a draft.
	ApproveIncident(ctx context.Context, id int64, actor string) (*Incident, error)

	// UnreportedCases returns a page of the cases still to be reported:
	// decided confirmed, not purged and in no incident (a discarded
	// draft's cases are in none), in id order after afterID. Incidents
	// are built from them on demand; this is how none is forgotten.
	UnreportedCases(ctx context.Context, afterID int64, limit int) ([]*Case, error)

	// AddAccountFacts merges f into the facts stored for f.UserID.
	AddAccountFacts(ctx context.Context, f *AccountFacts) (*AccountFacts, error)
	// FindAccountFacts returns the facts of a user; ENOTFOUND if none.
	FindAccountFacts(ctx context.Context, userID string) (*AccountFacts, error)
}

// IncidentAuditTarget names an incident in the audit log.
func IncidentAuditTarget(id int64) string { return fmt.Sprintf("incident:%d", id) }
