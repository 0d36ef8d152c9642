package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigil-oss/vigil"
)

// Enumerations of the EU DSA Transparency Database's statement of
// reasons, as its API accepts them (the keys of the Statement model's
// constant maps, which the request validator lists in its "in" rules).
var (
	DSADecisionVisibilities = []string{
		"DECISION_VISIBILITY_CONTENT_REMOVED", "DECISION_VISIBILITY_CONTENT_DISABLED",
		"DECISION_VISIBILITY_CONTENT_DEMOTED", "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
		"DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED", "DECISION_VISIBILITY_CONTENT_LABELLED",
		"DECISION_VISIBILITY_OTHER",
	}
	DSADecisionMonetaries = []string{"DECISION_MONETARY_SUSPENSION", "DECISION_MONETARY_TERMINATION", "DECISION_MONETARY_OTHER"}
	DSADecisionProvisions = []string{
		"DECISION_PROVISION_PARTIAL_SUSPENSION", "DECISION_PROVISION_TOTAL_SUSPENSION",
		"DECISION_PROVISION_PARTIAL_TERMINATION", "DECISION_PROVISION_TOTAL_TERMINATION",
	}
	DSADecisionAccounts = []string{"DECISION_ACCOUNT_SUSPENDED", "DECISION_ACCOUNT_TERMINATED"}
	DSAAccountTypes     = []string{"ACCOUNT_TYPE_BUSINESS", "ACCOUNT_TYPE_PRIVATE"}
	DSADecisionGrounds  = []string{"DECISION_GROUND_ILLEGAL_CONTENT", "DECISION_GROUND_INCOMPATIBLE_CONTENT"}
	DSAContentTypes     = []string{
		"CONTENT_TYPE_APP", "CONTENT_TYPE_AUDIO", "CONTENT_TYPE_IMAGE", "CONTENT_TYPE_PRODUCT",
		"CONTENT_TYPE_SYNTHETIC_MEDIA", "CONTENT_TYPE_TEXT", "CONTENT_TYPE_VIDEO", "CONTENT_TYPE_OTHER",
	}
	DSACategories = []string{
		"STATEMENT_CATEGORY_ANIMAL_WELFARE", "STATEMENT_CATEGORY_CONSUMER_INFORMATION",
		"STATEMENT_CATEGORY_CYBER_VIOLENCE", "STATEMENT_CATEGORY_CYBER_VIOLENCE_AGAINST_WOMEN",
		"STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS", "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
		"STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
		"STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS",
		"STATEMENT_CATEGORY_NOT_SPECIFIED_NOTICE", "STATEMENT_CATEGORY_OTHER_VIOLATION_TC",
		"STATEMENT_CATEGORY_PROTECTION_OF_MINORS", "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY",
		"STATEMENT_CATEGORY_SCAMS_AND_FRAUD", "STATEMENT_CATEGORY_SELF_HARM",
		"STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS", "STATEMENT_CATEGORY_VIOLENCE",
	}
	// DSAKeywords are the values of category_specification.
	DSAKeywords = []string{
		"KEYWORD_ADULT_SEXUAL_MATERIAL", "KEYWORD_AGE_SPECIFIC_RESTRICTIONS", "KEYWORD_AGE_SPECIFIC_RESTRICTIONS_MINORS",
		"KEYWORD_ANIMAL_HARM", "KEYWORD_BIOMETRIC_DATA_BREACH", "KEYWORD_BULLYING_AGAINST_GIRLS",
		"KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL", "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL_DEEPFAKE",
		"KEYWORD_CONTENT_PROMOTING_EATING_DISORDERS", "KEYWORD_COORDINATED_HARM", "KEYWORD_COPYRIGHT_INFRINGEMENT",
		"KEYWORD_CYBER_BULLYING_INTIMIDATION", "KEYWORD_CYBER_HARASSMENT", "KEYWORD_CYBER_HARASSMENT_AGAINST_WOMEN",
		"KEYWORD_CYBER_INCITEMENT", "KEYWORD_CYBER_STALKING", "KEYWORD_CYBER_STALKING_AGAINST_WOMEN",
		"KEYWORD_DATA_FALSIFICATION", "KEYWORD_DEFAMATION", "KEYWORD_DESIGN_INFRINGEMENT", "KEYWORD_DISCRIMINATION",
		"KEYWORD_FEMALE_GENDERED_DISINFORMATION", "KEYWORD_GEOGRAPHIC_INDICATIONS_INFRINGEMENT",
		"KEYWORD_GEOGRAPHICAL_REQUIREMENTS", "KEYWORD_GOODS_SERVICES_NOT_PERMITTED",
		"KEYWORD_GROOMING_SEXUAL_ENTICEMENT_MINORS", "KEYWORD_HATE_SPEECH", "KEYWORD_HIDDEN_ADVERTISEMENT",
		"KEYWORD_HUMAN_EXPLOITATION", "KEYWORD_HUMAN_TRAFFICKING", "KEYWORD_ILLEGAL_ORGANIZATIONS",
		"KEYWORD_IMPERSONATION_ACCOUNT_HIJACKING", "KEYWORD_INAUTHENTIC_ACCOUNTS", "KEYWORD_INAUTHENTIC_LISTINGS",
		"KEYWORD_INAUTHENTIC_USER_REVIEWS", "KEYWORD_INCITEMENT_AGAINST_WOMEN", "KEYWORD_INCITEMENT_VIOLENCE_HATRED",
		"KEYWORD_INSUFFICIENT_INFORMATION_ON_TRADERS", "KEYWORD_LANGUAGE_REQUIREMENTS",
		"KEYWORD_MISINFORMATION_DISINFORMATION", "KEYWORD_MISLEADING_INFO_CONSUMER_RIGHTS",
		"KEYWORD_MISLEADING_INFO_GOODS_SERVICES", "KEYWORD_MISSING_PROCESSING_GROUND",
		"KEYWORD_NON_CONSENSUAL_IMAGE_SHARING", "KEYWORD_NON_CONSENSUAL_IMAGE_SHARING_AGAINST_WOMEN",
		"KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE", "KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE_AGAINST_WOMEN",
		"KEYWORD_NONCOMPLIANCE_PRICING", "KEYWORD_NUDITY", "KEYWORD_PATENT_INFRINGEMENT", "KEYWORD_PHISHING",
		"KEYWORD_PROHIBITED_PRODUCTS", "KEYWORD_PYRAMID_SCHEMES", "KEYWORD_RIGHT_TO_BE_FORGOTTEN",
		"KEYWORD_RISK_ENVIRONMENTAL_DAMAGE", "KEYWORD_RISK_PUBLIC_HEALTH", "KEYWORD_SELF_MUTILATION",
		"KEYWORD_STALKING", "KEYWORD_SUICIDE", "KEYWORD_TERRORIST_CONTENT", "KEYWORD_TRADE_SECRET_INFRINGEMENT",
		"KEYWORD_TRADEMARK_INFRINGEMENT", "KEYWORD_TRAFFICKING_WOMEN_GIRLS", "KEYWORD_UNLAWFUL_SALE_ANIMALS",
		"KEYWORD_UNSAFE_CHALLENGES", "KEYWORD_UNSAFE_PRODUCTS", "KEYWORD_VIOLATION_EU_LAW",
		"KEYWORD_VIOLATION_NATIONAL_LAW", "KEYWORD_OTHER",
	}
	DSASourceTypes = []string{"SOURCE_ARTICLE_16", "SOURCE_TRUSTED_FLAGGER", "SOURCE_TYPE_OTHER_NOTIFICATION", "SOURCE_VOLUNTARY"}
	// DSAYesNo are the values of automated_detection and
	// incompatible_content_illegal (the model's values, not keys).
	DSAYesNo                = []string{"Yes", "No"}
	DSAAutomatedDecisions   = []string{"AUTOMATED_DECISION_FULLY", "AUTOMATED_DECISION_PARTIALLY", "AUTOMATED_DECISION_NOT_AUTOMATED"}
	DSATerritorialCountries = []string{
		"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IS", "IT",
		"LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK",
	}
	// DSALanguages are the ISO 639-1 codes content_language accepts, in
	// capitals as the database writes them.
	DSALanguages = strings.Fields(`AB AA AF AK SQ AM AR AN HY AS AV AE AY AZ BM BA EU BE BN BH BI BS BR BG MY CA
		KM CH CE NY ZH CU CV KW CO CR HR CS DA DV NL DZ EN EO ET EE FO FJ FI FR FF GD GL LG KA DE KI EL KL GN
		GU HT HA HE HZ HI HO HU IS IO IG ID IA IE IU IK GA IT JA JV KN KR KS KK RW KV KG KO KJ KU KY LO LA LV
		LB LI LN LT LU MK MG MS ML MT GV MI MR MH RO MN NA NV ND NG NE SE NO NB NN II OC OJ OR OM OS PI PA PS
		FA PL PT QU RM RN RU SM SG SA SC SR SN SD SI SK SL SO ST NR ES SU SW SS SV TL TY TG TA TT TE TH BO TI
		TO TS TN TR TK TW UG UK UR UZ VE VI VO WA CY FY WO XH YI YO ZA ZU`)
)

// DSAStatement is a statement of reasons (Article 17 DSA) as the EU
// Transparency Database's API takes it (POST /api/v1/statement). Empty
// strings and nil lists are absent fields.
type DSAStatement struct {
	DecisionVisibility      []string `json:"decision_visibility,omitempty"`
	DecisionVisibilityOther string   `json:"decision_visibility_other,omitempty"`
	DecisionMonetary        string   `json:"decision_monetary,omitempty"`
	DecisionMonetaryOther   string   `json:"decision_monetary_other,omitempty"`
	DecisionProvision       string   `json:"decision_provision,omitempty"`
	DecisionAccount         string   `json:"decision_account,omitempty"`
	AccountType             string   `json:"account_type,omitempty"`

	Category                   string   `json:"category"`
	CategoryAddition           []string `json:"category_addition,omitempty"`
	CategorySpecification      []string `json:"category_specification,omitempty"`
	CategorySpecificationOther string   `json:"category_specification_other,omitempty"`

	DecisionGround                 string `json:"decision_ground"`
	DecisionGroundReferenceURL     string `json:"decision_ground_reference_url,omitempty"`
	IllegalContentLegalGround      string `json:"illegal_content_legal_ground,omitempty"`
	IllegalContentExplanation      string `json:"illegal_content_explanation,omitempty"`
	IncompatibleContentGround      string `json:"incompatible_content_ground,omitempty"`
	IncompatibleContentExplanation string `json:"incompatible_content_explanation,omitempty"`
	IncompatibleContentIllegal     string `json:"incompatible_content_illegal,omitempty"`

	ContentType      []string          `json:"content_type"`
	ContentTypeOther string            `json:"content_type_other,omitempty"`
	ContentID        map[string]string `json:"content_id,omitempty"` // only "EAN-13"
	ContentIDEAN     string            `json:"content_id_ean,omitempty"`
	ContentLanguage  string            `json:"content_language,omitempty"`
	TerritorialScope []string          `json:"territorial_scope,omitempty"`

	ContentDate                  string `json:"content_date"`
	ApplicationDate              string `json:"application_date"`
	EndDateAccountRestriction    string `json:"end_date_account_restriction,omitempty"`
	EndDateMonetaryRestriction   string `json:"end_date_monetary_restriction,omitempty"`
	EndDateServiceRestriction    string `json:"end_date_service_restriction,omitempty"`
	EndDateVisibilityRestriction string `json:"end_date_visibility_restriction,omitempty"`

	DecisionFacts      string `json:"decision_facts"`
	SourceType         string `json:"source_type"`
	SourceIdentity     string `json:"source_identity,omitempty"`
	AutomatedDetection string `json:"automated_detection"`
	AutomatedDecision  string `json:"automated_decision"`
	// PUID is the platform's unique id of the statement: the database
	// refuses a second statement with the same one.
	PUID string `json:"puid"`
}

// DSA date bounds and format of the request validator.
const dsaDate = "2006-01-02"

var (
	dsaMaxDate        = time.Date(2038, 1, 1, 0, 0, 0, 0, time.UTC)
	dsaMinContentDate = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	dsaMinApplyDate   = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	dsaPUID           = regexp.MustCompile(`^[a-zA-Z0-9\-_]+$`)
	dsaEAN13          = regexp.MustCompile(`^[0-9]{13}$`)
)

// Validate checks every rule of the Transparency Database's statement
// request validator (StatementStoreRequest) and returns an EINVALID error
// naming each field that breaks one, so that what the database would
// answer 422 to is never sent. Where the database silently drops a field
// (its exclude_if/exclude_unless rules), Validate refuses it instead: what
// is rendered is then exactly what is stored.
func (s *DSAStatement) Validate() error {
	var p []string
	bad := func(field, format string, args ...any) {
		p = append(p, field+": "+fmt.Sprintf(format, args...))
	}
	maxLen := func(field, v string, n int) {
		if !utf8.ValidString(v) {
			bad(field, "must be UTF-8")
		} else if utf8.RuneCountInString(v) > n {
			bad(field, "must be at most %d characters", n)
		}
	}
	oneOf := func(field, v string, set []string) {
		if v != "" && !slices.Contains(set, v) {
			bad(field, "%q is not one of %s", v, strings.Join(set, ", "))
		}
	}
	allOf := func(field string, vs, set []string) {
		for _, v := range vs {
			if !slices.Contains(set, v) {
				bad(field, "%q is not one of %s", v, strings.Join(set, ", "))
			}
		}
	}
	required := func(field, v string) bool {
		if strings.TrimSpace(v) == "" {
			bad(field, "is required")
			return false
		}
		return true
	}
	// excluded is a field the database ignores unless cond holds.
	excluded := func(field, v string, cond bool, when string) {
		if !cond && v != "" {
			bad(field, "is only taken when %s", when)
		}
	}
	date := func(field, v string, min time.Time) {
		if v == "" {
			return
		}
		d, err := time.Parse(dsaDate, v)
		switch {
		case err != nil || d.Format(dsaDate) != v:
			bad(field, "%q does not match the format YYYY-MM-DD", v)
		case !min.IsZero() && d.Before(min):
			bad(field, "must be on or after %s", min.Format(dsaDate))
		case d.After(dsaMaxDate):
			bad(field, "must be on or before %s", dsaMaxDate.Format(dsaDate))
		}
	}

	// The decision: at least one of the four restrictions.
	if len(s.DecisionVisibility) == 0 && s.DecisionMonetary == "" && s.DecisionProvision == "" && s.DecisionAccount == "" {
		bad("decision_visibility", "one of decision_visibility, decision_monetary, decision_provision or decision_account is required")
	}
	allOf("decision_visibility", s.DecisionVisibility, DSADecisionVisibilities)
	visOther := slices.Contains(s.DecisionVisibility, "DECISION_VISIBILITY_OTHER")
	if visOther {
		required("decision_visibility_other", s.DecisionVisibilityOther)
	}
	excluded("decision_visibility_other", s.DecisionVisibilityOther, visOther, "decision_visibility holds DECISION_VISIBILITY_OTHER")
	maxLen("decision_visibility_other", s.DecisionVisibilityOther, 500)
	oneOf("decision_monetary", s.DecisionMonetary, DSADecisionMonetaries)
	monOther := s.DecisionMonetary == "DECISION_MONETARY_OTHER"
	if monOther {
		required("decision_monetary_other", s.DecisionMonetaryOther)
	}
	excluded("decision_monetary_other", s.DecisionMonetaryOther, monOther, "decision_monetary is DECISION_MONETARY_OTHER")
	maxLen("decision_monetary_other", s.DecisionMonetaryOther, 500)
	oneOf("decision_provision", s.DecisionProvision, DSADecisionProvisions)
	oneOf("decision_account", s.DecisionAccount, DSADecisionAccounts)
	oneOf("account_type", s.AccountType, DSAAccountTypes)

	// Category and keywords.
	if required("category", s.Category) {
		oneOf("category", s.Category, DSACategories)
	}
	allOf("category_addition", s.CategoryAddition, DSACategories)
	allOf("category_specification", s.CategorySpecification, DSAKeywords)
	maxLen("category_specification_other", s.CategorySpecificationOther, 500)

	// The ground, and the fields each ground requires or excludes.
	if required("decision_ground", s.DecisionGround) {
		oneOf("decision_ground", s.DecisionGround, DSADecisionGrounds)
	}
	if s.DecisionGroundReferenceURL != "" {
		if u, err := url.Parse(s.DecisionGroundReferenceURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			strings.ContainsAny(s.DecisionGroundReferenceURL, " \t\r\n") {
			bad("decision_ground_reference_url", "must be an http or https URL")
		}
	}
	maxLen("decision_ground_reference_url", s.DecisionGroundReferenceURL, 500)
	illegal := s.DecisionGround == "DECISION_GROUND_ILLEGAL_CONTENT"
	incompatible := s.DecisionGround == "DECISION_GROUND_INCOMPATIBLE_CONTENT"
	for _, f := range []struct {
		name, v string
		cond    bool
		when    string
		max     int
	}{
		{"illegal_content_legal_ground", s.IllegalContentLegalGround, illegal, "decision_ground is DECISION_GROUND_ILLEGAL_CONTENT", 500},
		{"illegal_content_explanation", s.IllegalContentExplanation, illegal, "decision_ground is DECISION_GROUND_ILLEGAL_CONTENT", 2000},
		{"incompatible_content_ground", s.IncompatibleContentGround, incompatible, "decision_ground is DECISION_GROUND_INCOMPATIBLE_CONTENT", 500},
		{"incompatible_content_explanation", s.IncompatibleContentExplanation, incompatible, "decision_ground is DECISION_GROUND_INCOMPATIBLE_CONTENT", 2000},
	} {
		if f.cond {
			required(f.name, f.v)
		}
		excluded(f.name, f.v, f.cond, f.when)
		maxLen(f.name, f.v, f.max)
	}
	oneOf("incompatible_content_illegal", s.IncompatibleContentIllegal, DSAYesNo)
	excluded("incompatible_content_illegal", s.IncompatibleContentIllegal, incompatible, "decision_ground is DECISION_GROUND_INCOMPATIBLE_CONTENT")

	// The content.
	if len(s.ContentType) == 0 {
		bad("content_type", "is required")
	}
	allOf("content_type", s.ContentType, DSAContentTypes)
	typeOther := slices.Contains(s.ContentType, "CONTENT_TYPE_OTHER")
	if typeOther {
		required("content_type_other", s.ContentTypeOther)
	}
	excluded("content_type_other", s.ContentTypeOther, typeOther, "content_type holds CONTENT_TYPE_OTHER")
	maxLen("content_type_other", s.ContentTypeOther, 500)
	for k, v := range s.ContentID {
		if k != "EAN-13" {
			bad("content_id", "%q is not a known identifier: only EAN-13", k)
		} else if !dsaEAN13.MatchString(v) {
			bad("content_id.EAN-13", "must be 13 digits")
		}
	}
	if s.ContentIDEAN != "" && !dsaEAN13.MatchString(s.ContentIDEAN) {
		bad("content_id_ean", "must be 13 digits")
	}
	oneOf("content_language", s.ContentLanguage, DSALanguages)
	allOf("territorial_scope", s.TerritorialScope, DSATerritorialCountries)

	// Dates.
	if required("content_date", s.ContentDate) {
		date("content_date", s.ContentDate, dsaMinContentDate)
	}
	if required("application_date", s.ApplicationDate) {
		date("application_date", s.ApplicationDate, dsaMinApplyDate)
	}
	date("end_date_account_restriction", s.EndDateAccountRestriction, time.Time{})
	date("end_date_monetary_restriction", s.EndDateMonetaryRestriction, time.Time{})
	date("end_date_service_restriction", s.EndDateServiceRestriction, time.Time{})
	date("end_date_visibility_restriction", s.EndDateVisibilityRestriction, time.Time{})

	// Facts, source, automation and the platform's id.
	required("decision_facts", s.DecisionFacts)
	maxLen("decision_facts", s.DecisionFacts, 5000)
	if required("source_type", s.SourceType) {
		oneOf("source_type", s.SourceType, DSASourceTypes)
	}
	excluded("source_identity", s.SourceIdentity, s.SourceType != "SOURCE_VOLUNTARY", "source_type is not SOURCE_VOLUNTARY")
	maxLen("source_identity", s.SourceIdentity, 500)
	if required("automated_detection", s.AutomatedDetection) {
		oneOf("automated_detection", s.AutomatedDetection, DSAYesNo)
	}
	if required("automated_decision", s.AutomatedDecision) {
		oneOf("automated_decision", s.AutomatedDecision, DSAAutomatedDecisions)
	}
	if required("puid", s.PUID) {
		maxLen("puid", s.PUID, 500)
		if !dsaPUID.MatchString(s.PUID) {
			bad("puid", "the puid format is invalid: letters, digits, - and _ only")
		}
	}
	if len(p) > 0 {
		slices.Sort(p) // map order of content_id must not change the message
		return vigil.Errorf(vigil.EINVALID, "dsa statement of reasons: %s", strings.Join(p, "; "))
	}
	return nil
}

// DSAConfig is what a deployment states about itself and its decisions
// for statements of reasons: facts the incident does not hold. Nothing
// here is guessed by Vigil.
type DSAConfig struct {
	// PUIDPrefix starts every statement's puid (then the incident and
	// case ids), so that the platform's statements stay unique.
	PUIDPrefix string `json:"puid_prefix"`
	// DecisionGround is DECISION_GROUND_ILLEGAL_CONTENT or
	// DECISION_GROUND_INCOMPATIBLE_CONTENT; the fields of that ground
	// must be set.
	DecisionGround                 string `json:"decision_ground"`
	DecisionGroundReferenceURL     string `json:"decision_ground_reference_url,omitempty"`
	IllegalContentLegalGround      string `json:"illegal_content_legal_ground,omitempty"`
	IllegalContentExplanation      string `json:"illegal_content_explanation,omitempty"`
	IncompatibleContentGround      string `json:"incompatible_content_ground,omitempty"`
	IncompatibleContentExplanation string `json:"incompatible_content_explanation,omitempty"`
	IncompatibleContentIllegal     string `json:"incompatible_content_illegal,omitempty"`
	// DecisionVisibility is what the platform does to confirmed content
	// (e.g. DECISION_VISIBILITY_CONTENT_REMOVED).
	DecisionVisibility      []string `json:"decision_visibility"`
	DecisionVisibilityOther string   `json:"decision_visibility_other,omitempty"`
	// DecisionProvision and DecisionAccount are restrictions the platform
	// always applies with it; an account the platform reported disabled
	// (its account facts) gives decision_account when this is empty.
	DecisionProvision string `json:"decision_provision,omitempty"`
	DecisionAccount   string `json:"decision_account,omitempty"`
	AccountType       string `json:"account_type,omitempty"`
	// TerritorialScope is where the decision applies (EU/EEA codes).
	TerritorialScope []string `json:"territorial_scope"`
	// SourceType is how Vigil's detections reach the platform: its own
	// scanning is SOURCE_VOLUNTARY (the default when empty).
	SourceType     string `json:"source_type,omitempty"`
	SourceIdentity string `json:"source_identity,omitempty"`
}

// MaxDSAConfig bounds a DSA configuration file.
const MaxDSAConfig = 1 << 20

// ParseDSAConfig reads a DSAConfig JSON document: size-limited, unknown
// fields refused, then validated by rendering a probe statement with it.
func ParseDSAConfig(data []byte) (*DSAConfig, error) {
	if len(data) > MaxDSAConfig {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "dsa config is larger than %d bytes", MaxDSAConfig)
	}
	var cfg DSAConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return nil, vigil.Errorf(vigil.EINVALID, "dsa config: %v", err)
	}
	if dec.More() {
		return nil, vigil.Errorf(vigil.EINVALID, "dsa config: more than one JSON value")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// Validate returns an EINVALID error for a config statements cannot be
// made with.
func (c *DSAConfig) Validate() error {
	if c.PUIDPrefix == "" || len(c.PUIDPrefix) > 200 || !dsaPUID.MatchString(c.PUIDPrefix) {
		return vigil.Errorf(vigil.EINVALID, "dsa config: puid_prefix must be 1 to 200 letters, digits, - or _")
	}
	if len(c.DecisionVisibility) == 0 && c.DecisionProvision == "" && c.DecisionAccount == "" {
		return vigil.Errorf(vigil.EINVALID, "dsa config: decision_visibility (what the platform does to confirmed content) is required")
	}
	if len(c.TerritorialScope) == 0 {
		return vigil.Errorf(vigil.EINVALID, "dsa config: territorial_scope is required")
	}
	// The config's fields are statement fields: a probe statement made of
	// them breaks exactly the validator's rules the config would break.
	probe := c.statement()
	probe.Category, probe.ContentType, probe.DecisionFacts = "STATEMENT_CATEGORY_PROTECTION_OF_MINORS", []string{"CONTENT_TYPE_TEXT"}, "probe"
	probe.ContentDate, probe.ApplicationDate = "2026-01-01", "2026-01-01"
	probe.AutomatedDetection, probe.AutomatedDecision = "Yes", "AUTOMATED_DECISION_NOT_AUTOMATED"
	probe.PUID = c.PUIDPrefix
	if err := probe.Validate(); err != nil {
		return vigil.Errorf(vigil.EINVALID, "dsa config: %s", strings.TrimPrefix(vigil.ErrorMessage(err), "dsa statement of reasons: "))
	}
	return nil
}

// statement is the part of every statement the config decides.
func (c *DSAConfig) statement() DSAStatement {
	src := c.SourceType
	if src == "" {
		src = "SOURCE_VOLUNTARY"
	}
	return DSAStatement{
		DecisionVisibility: slices.Clone(c.DecisionVisibility), DecisionVisibilityOther: c.DecisionVisibilityOther,
		DecisionProvision: c.DecisionProvision, DecisionAccount: c.DecisionAccount, AccountType: c.AccountType,
		DecisionGround: c.DecisionGround, DecisionGroundReferenceURL: c.DecisionGroundReferenceURL,
		IllegalContentLegalGround: c.IllegalContentLegalGround, IllegalContentExplanation: c.IllegalContentExplanation,
		IncompatibleContentGround: c.IncompatibleContentGround, IncompatibleContentExplanation: c.IncompatibleContentExplanation,
		IncompatibleContentIllegal: c.IncompatibleContentIllegal,
		TerritorialScope:           slices.Clone(c.TerritorialScope),
		SourceType:                 src, SourceIdentity: c.SourceIdentity,
	}
}

// RenderDSA renders inc as statements of reasons, one per action taken
// on content: one per file (a confirmed match case) and one per
// conversation. applied is the day the platform applied its decision
// (application_date). facts are the account facts of the incident's users
// (may be nil): an account the platform disabled makes decision_account
// when the config does not set one. Every statement is validated; an
// invalid one is refused with the field it breaks.
//
// The database is public, so a statement carries no personal data: no
// user ids, hashes, file names or message text, only what kind of
// detection found the content and that a person confirmed it.
func RenderDSA(inc *vigil.Incident, facts map[string]*vigil.AccountFacts, cfg DSAConfig, applied time.Time) ([]DSAStatement, error) {
	return renderDSA(inc, facts, cfg, applied, nil)
}

// RenderDSAAutomated renders the statements of an automatic action (the
// actions a corroborated auto rule took, such as "block") on inc's
// content: automated_decision is AUTOMATED_DECISION_FULLY and the facts
// say that no person decided, whatever a reviewer made of the case later.
func RenderDSAAutomated(inc *vigil.Incident, cfg DSAConfig, applied time.Time, actions []string) ([]DSAStatement, error) {
	if len(actions) == 0 {
		return nil, vigil.Errorf(vigil.EINVALID, "dsa: an automatic action's statement needs the actions taken")
	}
	return renderDSA(inc, nil, cfg, applied, actions)
}

func renderDSA(inc *vigil.Incident, facts map[string]*vigil.AccountFacts, cfg DSAConfig, applied time.Time, auto []string) ([]DSAStatement, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if applied.IsZero() {
		return nil, vigil.Errorf(vigil.EINVALID, "dsa: the date the decision was applied is required")
	}
	base := cfg.statement()
	base.Category = "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"
	// Vigil detected it (hash lists, the grooming detector) and a person
	// decided: reviewers confirm every case before an incident exists.
	base.AutomatedDetection, base.AutomatedDecision = "Yes", "AUTOMATED_DECISION_NOT_AUTOMATED"
	if len(auto) > 0 {
		// An auto rule acted: no person decided.
		base.AutomatedDecision = "AUTOMATED_DECISION_FULLY"
	}
	base.ApplicationDate = applied.UTC().Format(dsaDate)
	if base.DecisionAccount == "" {
		if f := facts[inc.ReportedUser]; f != nil && f.Disabled != nil {
			base.DecisionAccount = "DECISION_ACCOUNT_SUSPENDED"
			if f.Disabled.Permanent {
				base.DecisionAccount = "DECISION_ACCOUNT_TERMINATED"
			}
		}
	}
	contentDate := inc.Time.UTC().Format(dsaDate)
	var out []DSAStatement
	for _, f := range inc.Files {
		s := base
		s.PUID = fmt.Sprintf("%s-incident-%d-case-%d", cfg.PUIDPrefix, inc.ID, f.CaseID)
		s.ContentDate = contentDate
		s.ContentType, s.ContentTypeOther = dsaFileContentType(f)
		synthetic := slices.Contains(f.Annotations, "generativeAi")
		if synthetic {
			s.ContentType = append(s.ContentType, "CONTENT_TYPE_SYNTHETIC_MEDIA")
			s.CategorySpecification = []string{"KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL_DEEPFAKE"}
		} else {
			s.CategorySpecification = []string{"KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL"}
		}
		s.DecisionFacts = dsaFileFacts(f, synthetic, auto)
		out = append(out, s)
	}
	for _, c := range inc.Conversations {
		s := base
		s.PUID = fmt.Sprintf("%s-incident-%d-case-%d", cfg.PUIDPrefix, inc.ID, c.CaseID)
		s.ContentDate = contentDate
		if len(c.Messages) > 0 && !c.Messages[0].Time.IsZero() {
			s.ContentDate = c.Messages[0].Time.UTC().Format(dsaDate)
		}
		s.ContentType = []string{"CONTENT_TYPE_TEXT"}
		s.CategorySpecification = []string{"KEYWORD_GROOMING_SEXUAL_ENTICEMENT_MINORS"}
		s.DecisionFacts = dsaConversationFacts(c, auto)
		out = append(out, s)
	}
	for i := range out {
		if err := out[i].Validate(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// dsaFileContentType says what kind of content a file is from its media
// type, else from the signals that matched it (a PDQ is computed from an
// image, a vPDQ from a video); an exact digest alone says nothing, and
// that is what the statement then says.
func dsaFileContentType(f vigil.IncidentFile) ([]string, string) {
	switch {
	case strings.HasPrefix(f.MediaType, "image/"):
		return []string{"CONTENT_TYPE_IMAGE"}, ""
	case strings.HasPrefix(f.MediaType, "video/"):
		return []string{"CONTENT_TYPE_VIDEO"}, ""
	}
	for _, m := range f.Matches {
		switch m.SignalType {
		case vigil.SignalPDQ:
			return []string{"CONTENT_TYPE_IMAGE"}, ""
		case vigil.SignalVPDQ:
			return []string{"CONTENT_TYPE_VIDEO"}, ""
		}
	}
	return []string{"CONTENT_TYPE_OTHER"}, "File of unrecorded type, identified by its exact digest"
}

// dsaAutoFacts is the sentence of a statement saying who decided, for an
// automatic action.
func dsaAutoFacts(auto []string) string {
	return fmt.Sprintf("The action (%s) was taken automatically, without human review, by a rule that acts only when independent sources corroborate the detection.",
		strings.Join(auto, ", "))
}

func dsaFileFacts(f vigil.IncidentFile, synthetic bool, auto []string) string {
	var kinds []string
	for _, m := range f.Matches {
		k := "exact hash"
		if m.SignalType == vigil.SignalPDQ || m.SignalType == vigil.SignalVPDQ {
			k = "perceptual hash"
		}
		if !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	what := "known child sexual abuse material"
	if synthetic {
		what = "AI-generated child sexual abuse material"
	}
	n := len(f.Matches)
	entries := "entry"
	if n != 1 {
		entries = "entries"
	}
	detected := fmt.Sprintf("The content matched %d %s of the platform's hash lists (%s matching).", n, entries, strings.Join(kinds, " and "))
	if len(auto) > 0 {
		return detected + " " + dsaAutoFacts(auto)
	}
	return detected + fmt.Sprintf(" A human reviewer examined the case and confirmed it as %s.", what)
}

func dsaConversationFacts(c *vigil.IncidentConversation, auto []string) string {
	var ind []string
	for _, m := range c.Messages {
		for _, i := range m.Indicators {
			if !slices.Contains(ind, i) {
				ind = append(ind, i)
			}
		}
	}
	s := fmt.Sprintf("Automated grooming detection flagged %d messages of a conversation", len(c.Messages))
	if len(ind) > 0 {
		s += " showing " + strings.Join(ind, ", ")
	}
	if len(auto) > 0 {
		return s + ". " + dsaAutoFacts(auto)
	}
	return s + ". A human reviewer examined the conversation and confirmed it as grooming or solicitation of a minor."
}

// RenderDSAIncident renders inc's statements of reasons with the account
// facts incidents holds for its users, as the API and the CLI show them:
// a statement that breaks a rule of the database's validator makes Valid
// false with the field it breaks; only other failures are errors.
func RenderDSAIncident(ctx context.Context, incidents vigil.IncidentService, inc *vigil.Incident, cfg DSAConfig, applied time.Time) (*Rendering, error) {
	facts, err := Facts(ctx, incidents, inc)
	if err != nil {
		return nil, err
	}
	out := &Rendering{Format: "dsa"}
	sts, err := RenderDSA(inc, facts, cfg, applied)
	if vigil.ErrorCode(err) == vigil.EINVALID {
		out.Error = vigil.ErrorMessage(err)
		return out, nil
	} else if err != nil {
		return nil, err
	}
	doc, err := json.MarshalIndent(sts, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode statements: %w", err)
	}
	out.Report, out.Valid = string(doc)+"\n", true
	return out, nil
}
