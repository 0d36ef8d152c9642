package report_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/report"
)

var dsaCfg = report.DSAConfig{
	PUIDPrefix:                 "example-chat",
	DecisionGround:             "DECISION_GROUND_ILLEGAL_CONTENT",
	DecisionGroundReferenceURL: "https://example.org/legal",
	IllegalContentLegalGround:  "Directive 2011/93/EU, Articles 5 and 6, as transposed",
	IllegalContentExplanation:  "The content is child sexual abuse material or solicitation of a child, illegal in every Member State.",
	DecisionVisibility:         []string{"DECISION_VISIBILITY_CONTENT_REMOVED"},
	TerritorialScope:           []string{"AT", "BE", "DE", "FR", "IE", "NL"},
	AccountType:                "ACCOUNT_TYPE_PRIVATE",
}

var applied = time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC)

// validStatement is a statement every rule accepts.
func validStatement() report.DSAStatement {
	return report.DSAStatement{
		DecisionVisibility: []string{"DECISION_VISIBILITY_CONTENT_REMOVED"},
		Category:           "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
		DecisionGround:     "DECISION_GROUND_ILLEGAL_CONTENT", IllegalContentLegalGround: "law", IllegalContentExplanation: "why",
		ContentType: []string{"CONTENT_TYPE_IMAGE"}, ContentDate: "2026-11-03", ApplicationDate: "2026-11-04",
		DecisionFacts: "facts", SourceType: "SOURCE_VOLUNTARY", AutomatedDetection: "Yes",
		AutomatedDecision: "AUTOMATED_DECISION_NOT_AUTOMATED", PUID: "p-1_a",
	}
}

// One case per rule of StatementStoreRequest: each breaks it once and
// the error must name the field; ok cases are edges the rule accepts.
func TestDSAStatementRules(t *testing.T) {
	long := func(n int) string { return strings.Repeat("é", n) } // characters, not bytes
	for _, tc := range []struct {
		name  string
		field string // "" means the statement must pass
		edit  func(s *report.DSAStatement)
	}{
		{"valid", "", func(s *report.DSAStatement) {}},
		// decision_*: required_without_all of each other.
		{"no decision at all", "decision_visibility", func(s *report.DSAStatement) { s.DecisionVisibility = nil }},
		{"account decision alone", "", func(s *report.DSAStatement) {
			s.DecisionVisibility, s.DecisionAccount = nil, "DECISION_ACCOUNT_TERMINATED"
		}},
		{"monetary decision alone", "", func(s *report.DSAStatement) {
			s.DecisionVisibility, s.DecisionMonetary = nil, "DECISION_MONETARY_SUSPENSION"
		}},
		{"provision decision alone", "", func(s *report.DSAStatement) {
			s.DecisionVisibility, s.DecisionProvision = nil, "DECISION_PROVISION_TOTAL_SUSPENSION"
		}},
		{"decision_visibility in", "decision_visibility", func(s *report.DSAStatement) { s.DecisionVisibility = []string{"Removal of content"} }},
		{"decision_visibility_other required_if", "decision_visibility_other", func(s *report.DSAStatement) {
			s.DecisionVisibility = []string{"DECISION_VISIBILITY_OTHER"}
		}},
		{"decision_visibility_other excluded", "decision_visibility_other", func(s *report.DSAStatement) { s.DecisionVisibilityOther = "x" }},
		{"decision_visibility_other max", "decision_visibility_other", func(s *report.DSAStatement) {
			s.DecisionVisibility, s.DecisionVisibilityOther = []string{"DECISION_VISIBILITY_OTHER"}, long(501)
		}},
		{"decision_visibility_other at max", "", func(s *report.DSAStatement) {
			s.DecisionVisibility, s.DecisionVisibilityOther = []string{"DECISION_VISIBILITY_OTHER"}, long(500)
		}},
		{"decision_monetary in", "decision_monetary", func(s *report.DSAStatement) { s.DecisionMonetary = "DECISION_MONETARY_FINE" }},
		{"decision_monetary_other required_if", "decision_monetary_other", func(s *report.DSAStatement) { s.DecisionMonetary = "DECISION_MONETARY_OTHER" }},
		{"decision_monetary_other excluded", "decision_monetary_other", func(s *report.DSAStatement) { s.DecisionMonetaryOther = "x" }},
		{"decision_monetary_other max", "decision_monetary_other", func(s *report.DSAStatement) {
			s.DecisionMonetary, s.DecisionMonetaryOther = "DECISION_MONETARY_OTHER", long(501)
		}},
		{"decision_provision in", "decision_provision", func(s *report.DSAStatement) { s.DecisionProvision = "DECISION_PROVISION_X" }},
		{"decision_account in", "decision_account", func(s *report.DSAStatement) { s.DecisionAccount = "DECISION_ACCOUNT_BANNED" }},
		{"account_type in", "account_type", func(s *report.DSAStatement) { s.AccountType = "Private" }},
		// category and keywords.
		{"category required", "category", func(s *report.DSAStatement) { s.Category = "" }},
		{"category in", "category", func(s *report.DSAStatement) { s.Category = "STATEMENT_CATEGORY_CSAM" }},
		{"category_addition in", "category_addition", func(s *report.DSAStatement) { s.CategoryAddition = []string{"STATEMENT_CATEGORY_VIOLENCE", "x"} }},
		{"category_specification in", "category_specification", func(s *report.DSAStatement) { s.CategorySpecification = []string{"KEYWORD_CSAM"} }},
		{"category_specification_other max", "category_specification_other", func(s *report.DSAStatement) { s.CategorySpecificationOther = long(501) }},
		// decision_ground and what it requires or excludes.
		{"decision_ground required", "decision_ground", func(s *report.DSAStatement) {
			s.DecisionGround, s.IllegalContentLegalGround, s.IllegalContentExplanation = "", "", ""
		}},
		{"decision_ground in", "decision_ground", func(s *report.DSAStatement) { s.DecisionGround = "DECISION_GROUND_OTHER" }},
		{"decision_ground_reference_url url", "decision_ground_reference_url", func(s *report.DSAStatement) { s.DecisionGroundReferenceURL = "example.org/tos" }},
		{"decision_ground_reference_url max", "decision_ground_reference_url", func(s *report.DSAStatement) {
			s.DecisionGroundReferenceURL = "https://example.org/" + strings.Repeat("a", 481)
		}},
		{"illegal_content_legal_ground required_if", "illegal_content_legal_ground", func(s *report.DSAStatement) { s.IllegalContentLegalGround = "" }},
		{"illegal_content_legal_ground max", "illegal_content_legal_ground", func(s *report.DSAStatement) { s.IllegalContentLegalGround = long(501) }},
		{"illegal_content_explanation required_if", "illegal_content_explanation", func(s *report.DSAStatement) { s.IllegalContentExplanation = "" }},
		{"illegal_content_explanation max", "illegal_content_explanation", func(s *report.DSAStatement) { s.IllegalContentExplanation = long(2001) }},
		{"illegal_content_explanation at max", "", func(s *report.DSAStatement) { s.IllegalContentExplanation = long(2000) }},
		{"incompatible fields excluded for illegal ground", "incompatible_content_ground", func(s *report.DSAStatement) { s.IncompatibleContentGround = "tos 4.2" }},
		{"incompatible_content_illegal excluded for illegal ground", "incompatible_content_illegal", func(s *report.DSAStatement) { s.IncompatibleContentIllegal = "Yes" }},
		{"incompatible ground valid", "", incompatible},
		{"incompatible_content_ground required_if", "incompatible_content_ground", func(s *report.DSAStatement) {
			incompatible(s)
			s.IncompatibleContentGround = ""
		}},
		{"incompatible_content_ground max", "incompatible_content_ground", func(s *report.DSAStatement) {
			incompatible(s)
			s.IncompatibleContentGround = long(501)
		}},
		{"incompatible_content_explanation required_if", "incompatible_content_explanation", func(s *report.DSAStatement) {
			incompatible(s)
			s.IncompatibleContentExplanation = ""
		}},
		{"incompatible_content_explanation max", "incompatible_content_explanation", func(s *report.DSAStatement) {
			incompatible(s)
			s.IncompatibleContentExplanation = long(2001)
		}},
		{"incompatible_content_illegal in", "incompatible_content_illegal", func(s *report.DSAStatement) {
			incompatible(s)
			s.IncompatibleContentIllegal = "yes"
		}},
		{"illegal fields excluded for incompatible ground", "illegal_content_legal_ground", func(s *report.DSAStatement) {
			incompatible(s)
			s.IllegalContentLegalGround = "law"
		}},
		// content.
		{"content_type required", "content_type", func(s *report.DSAStatement) { s.ContentType = nil }},
		{"content_type in", "content_type", func(s *report.DSAStatement) { s.ContentType = []string{"CONTENT_TYPE_IMAGE", "Image"} }},
		{"content_type_other required_if", "content_type_other", func(s *report.DSAStatement) { s.ContentType = []string{"CONTENT_TYPE_OTHER"} }},
		{"content_type_other excluded", "content_type_other", func(s *report.DSAStatement) { s.ContentTypeOther = "x" }},
		{"content_type_other max", "content_type_other", func(s *report.DSAStatement) {
			s.ContentType, s.ContentTypeOther = []string{"CONTENT_TYPE_OTHER"}, long(501)
		}},
		{"content_id EAN-13 valid", "", func(s *report.DSAStatement) { s.ContentID = map[string]string{"EAN-13": "4006381333931"} }},
		{"content_id.EAN-13 regex", "content_id.EAN-13", func(s *report.DSAStatement) { s.ContentID = map[string]string{"EAN-13": "400638133393"} }},
		{"content_id key", "content_id", func(s *report.DSAStatement) { s.ContentID = map[string]string{"ISBN": "4006381333931"} }},
		{"content_id_ean regex", "content_id_ean", func(s *report.DSAStatement) { s.ContentIDEAN = "40063813339311" }},
		{"content_language in", "content_language", func(s *report.DSAStatement) { s.ContentLanguage = "en" }},
		{"content_language valid", "", func(s *report.DSAStatement) { s.ContentLanguage = "EN" }},
		{"territorial_scope in", "territorial_scope", func(s *report.DSAStatement) { s.TerritorialScope = []string{"DE", "GB"} }},
		// dates.
		{"content_date required", "content_date", func(s *report.DSAStatement) { s.ContentDate = "" }},
		{"content_date format", "content_date", func(s *report.DSAStatement) { s.ContentDate = "2026-11-3" }},
		{"content_date not a day", "content_date", func(s *report.DSAStatement) { s.ContentDate = "2026-02-30" }},
		{"content_date with time", "content_date", func(s *report.DSAStatement) { s.ContentDate = "2026-11-03T10:00:00Z" }},
		{"content_date after_or_equal", "content_date", func(s *report.DSAStatement) { s.ContentDate = "1999-12-31" }},
		{"content_date first day", "", func(s *report.DSAStatement) { s.ContentDate = "2000-01-01" }},
		{"content_date before_or_equal", "content_date", func(s *report.DSAStatement) { s.ContentDate = "2038-01-02" }},
		{"application_date required", "application_date", func(s *report.DSAStatement) { s.ApplicationDate = "" }},
		{"application_date format", "application_date", func(s *report.DSAStatement) { s.ApplicationDate = "04/11/2026" }},
		{"application_date after_or_equal", "application_date", func(s *report.DSAStatement) { s.ApplicationDate = "2019-12-31" }},
		{"application_date last day", "", func(s *report.DSAStatement) { s.ApplicationDate = "2038-01-01" }},
		{"application_date before_or_equal", "application_date", func(s *report.DSAStatement) { s.ApplicationDate = "2038-01-02" }},
		{"end_date_account_restriction format", "end_date_account_restriction", func(s *report.DSAStatement) { s.EndDateAccountRestriction = "2027" }},
		{"end_date_account_restriction before_or_equal", "end_date_account_restriction", func(s *report.DSAStatement) { s.EndDateAccountRestriction = "2040-01-01" }},
		{"end_date_monetary_restriction format", "end_date_monetary_restriction", func(s *report.DSAStatement) { s.EndDateMonetaryRestriction = "x" }},
		{"end_date_service_restriction before_or_equal", "end_date_service_restriction", func(s *report.DSAStatement) { s.EndDateServiceRestriction = "2038-01-02" }},
		{"end_date_visibility_restriction format", "end_date_visibility_restriction", func(s *report.DSAStatement) { s.EndDateVisibilityRestriction = "2027-13-01" }},
		{"end dates valid", "", func(s *report.DSAStatement) {
			s.EndDateAccountRestriction, s.EndDateMonetaryRestriction = "2027-01-01", "2038-01-01"
			s.EndDateServiceRestriction, s.EndDateVisibilityRestriction = "1990-01-01", "2030-06-30"
		}},
		// facts, source, automation, puid.
		{"decision_facts required", "decision_facts", func(s *report.DSAStatement) { s.DecisionFacts = "" }},
		{"decision_facts max", "decision_facts", func(s *report.DSAStatement) { s.DecisionFacts = long(5001) }},
		{"decision_facts at max", "", func(s *report.DSAStatement) { s.DecisionFacts = long(5000) }},
		{"source_type required", "source_type", func(s *report.DSAStatement) { s.SourceType = "" }},
		{"source_type in", "source_type", func(s *report.DSAStatement) { s.SourceType = "SOURCE_AUTOMATED" }},
		{"source_identity excluded for voluntary", "source_identity", func(s *report.DSAStatement) { s.SourceIdentity = "a hotline" }},
		{"source_identity valid", "", func(s *report.DSAStatement) { s.SourceType, s.SourceIdentity = "SOURCE_TRUSTED_FLAGGER", "a hotline" }},
		{"source_identity max", "source_identity", func(s *report.DSAStatement) { s.SourceType, s.SourceIdentity = "SOURCE_ARTICLE_16", long(501) }},
		{"automated_detection required", "automated_detection", func(s *report.DSAStatement) { s.AutomatedDetection = "" }},
		{"automated_detection in", "automated_detection", func(s *report.DSAStatement) { s.AutomatedDetection = "AUTOMATED_DETECTION_YES" }},
		{"automated_decision required", "automated_decision", func(s *report.DSAStatement) { s.AutomatedDecision = "" }},
		{"automated_decision in", "automated_decision", func(s *report.DSAStatement) { s.AutomatedDecision = "Not Automated" }},
		{"puid required", "puid", func(s *report.DSAStatement) { s.PUID = "" }},
		{"puid regex", "puid", func(s *report.DSAStatement) { s.PUID = "incident 1/case 2" }},
		{"puid regex newline", "puid", func(s *report.DSAStatement) { s.PUID = "p1\n" }},
		{"puid max", "puid", func(s *report.DSAStatement) { s.PUID = strings.Repeat("a", 501) }},
		{"puid at max", "", func(s *report.DSAStatement) { s.PUID = strings.Repeat("a", 500) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := validStatement()
			tc.edit(&s)
			err := s.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("valid statement refused: %v", err)
				}
				return
			}
			wantCode(t, err, vigil.EINVALID)
			if !strings.Contains(vigil.ErrorMessage(err), tc.field+": ") {
				t.Errorf("error does not name %s: %v", tc.field, err)
			}
		})
	}
}

func incompatible(s *report.DSAStatement) {
	s.DecisionGround, s.IllegalContentLegalGround, s.IllegalContentExplanation = "DECISION_GROUND_INCOMPATIBLE_CONTENT", "", ""
	s.IncompatibleContentGround, s.IncompatibleContentExplanation, s.IncompatibleContentIllegal = "terms 4.2", "why", "Yes"
}

// One statement per action on content, valid, and the same bytes as the
// golden files: an imagery incident of two files and a grooming one.
func TestRenderDSAGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		inc  *vigil.Incident
		want []string // category_specification per statement
	}{
		{"imagery", imageryIncident(t), []string{"KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL", "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL_DEEPFAKE"}},
		{"grooming", groomingIncident(t), []string{"KEYWORD_GROOMING_SEXUAL_ENTICEMENT_MINORS"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sts, err := report.RenderDSA(tc.inc, facts, dsaCfg, applied)
			must(t, err)
			if len(sts) != len(tc.want) {
				t.Fatalf("%d statements, want %d", len(sts), len(tc.want))
			}
			for i, s := range sts {
				if len(s.CategorySpecification) != 1 || s.CategorySpecification[0] != tc.want[i] {
					t.Errorf("statement %d: category_specification %v, want %s", i, s.CategorySpecification, tc.want[i])
				}
			}
			doc, err := json.MarshalIndent(sts, "", "  ")
			must(t, err)
			doc = append(doc, '\n')
			// A public database: no user ids, hashes, file names or message text.
			for _, private := range []string{"user-4", "user-9", "kid-3", "upload-77", strings.Repeat("ab", 32), "our secret", "school", "dm-314"} {
				if strings.Contains(string(doc), private) {
					t.Errorf("statement holds personal data %q:\n%s", private, doc)
				}
			}
			golden(t, tc.name+".dsa.json", doc)
		})
	}
}

func TestRenderDSAChoices(t *testing.T) {
	inc := imageryIncident(t)
	sts, err := report.RenderDSA(inc, facts, dsaCfg, applied)
	must(t, err)
	// user-4's account is disabled permanently in its facts.
	if sts[0].DecisionAccount != "DECISION_ACCOUNT_TERMINATED" || sts[0].PUID != "example-chat-incident-1-case-11" {
		t.Errorf("statement 0: %+v", sts[0])
	}
	// Case 12 has no media type and only a PDQ match: an image, made by AI.
	if got := strings.Join(sts[1].ContentType, ","); got != "CONTENT_TYPE_IMAGE,CONTENT_TYPE_SYNTHETIC_MEDIA" {
		t.Errorf("statement 1 content_type %s", got)
	}
	// Without facts, no account decision is made up.
	sts, err = report.RenderDSA(inc, nil, dsaCfg, applied)
	must(t, err)
	if sts[0].DecisionAccount != "" {
		t.Errorf("account decision without facts: %q", sts[0].DecisionAccount)
	}
	// A file known only by an exact digest is of a type the statement must spell out.
	inc.Files[0].MediaType, inc.Files[0].Matches = "", inc.Files[0].Matches[:1]
	sts, err = report.RenderDSA(inc, nil, dsaCfg, applied)
	must(t, err)
	if sts[0].ContentType[0] != "CONTENT_TYPE_OTHER" || sts[0].ContentTypeOther == "" {
		t.Errorf("exact-digest file: %v %q", sts[0].ContentType, sts[0].ContentTypeOther)
	}

	// Refused: no application date, and a config breaking a rule.
	_, err = report.RenderDSA(inc, nil, dsaCfg, time.Time{})
	wantCode(t, err, vigil.EINVALID)
	bad := dsaCfg
	bad.IllegalContentExplanation = ""
	_, err = report.RenderDSA(inc, nil, bad, applied)
	wantCode(t, err, vigil.EINVALID)
	if !strings.Contains(vigil.ErrorMessage(err), "illegal_content_explanation") {
		t.Errorf("config error does not name the field: %v", err)
	}
	// An application date the database refuses is refused here.
	_, err = report.RenderDSA(inc, nil, dsaCfg, time.Date(2039, 1, 1, 0, 0, 0, 0, time.UTC))
	wantCode(t, err, vigil.EINVALID)
}

func TestParseDSAConfig(t *testing.T) {
	good, err := json.Marshal(dsaCfg)
	must(t, err)
	c, err := report.ParseDSAConfig(good)
	must(t, err)
	if c.PUIDPrefix != "example-chat" || len(c.TerritorialScope) != 6 {
		t.Errorf("parsed %+v", c)
	}
	for name, doc := range map[string]string{
		"unknown field": `{"puid_prefix":"a","platform_name":"x"}`,
		"no prefix":     `{"decision_ground":"DECISION_GROUND_ILLEGAL_CONTENT"}`,
		"two values":    string(good) + string(good),
		"no scope":      strings.Replace(string(good), `"territorial_scope":["AT","BE","DE","FR","IE","NL"]`, `"territorial_scope":[]`, 1),
		"bad country":   strings.Replace(string(good), `"AT"`, `"UK"`, 1),
		"not json":      `puid_prefix=a`,
	} {
		if _, err := report.ParseDSAConfig([]byte(doc)); vigil.ErrorCode(err) != vigil.EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
	_, err = report.ParseDSAConfig(make([]byte, report.MaxDSAConfig+1))
	wantCode(t, err, vigil.ETOOLARGE)
}

func FuzzParseDSAConfig(f *testing.F) {
	good, _ := json.Marshal(dsaCfg)
	f.Add(good)
	f.Add([]byte(`{"puid_prefix":"a","decision_visibility":["DECISION_VISIBILITY_OTHER"],"territorial_scope":["DE"]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := report.ParseDSAConfig(data)
		if err != nil {
			if c := vigil.ErrorCode(err); c != vigil.EINVALID && c != vigil.ETOOLARGE {
				t.Fatalf("code %q: %v", c, err)
			}
			return
		}
		// An accepted config always renders valid statements.
		if _, err := report.RenderDSA(imageryIncident(t), facts, *c, applied); err != nil {
			t.Fatalf("accepted config %s renders invalid statements: %v", data, err)
		}
	})
}
