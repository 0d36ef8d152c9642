package http

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/grooming"
	"github.com/vigil-oss/vigil/respond"
)

// maxMessagesPerRequest bounds one append or one whole-conversation score.
const maxMessagesPerRequest = 1000

type appendRequest struct {
	Messages []grooming.Message `json:"messages"`
	// Participants apply when the conversation is new; later they are
	// ignored (the state already holds them).
	Participants []grooming.Participant `json:"participants,omitempty"`
}

type conversationResponse struct {
	Conversation *vigil.Conversation `json:"conversation"`
	Risk         json.RawMessage     `json:"risk"`
	// TextMatches lists, for appended messages that hit a bank's URL or
	// keyword entries, those matches (with spans into the message text).
	TextMatches []messageMatches `json:"text_matches,omitempty"`
	// Actions says what the rules did; absent on a server without rules.
	Actions *vigil.Outcome `json:"actions,omitempty"`
}

type messageMatches struct {
	Message int           `json:"message"` // index in the conversation
	Matches []vigil.Match `json:"matches"`
}

// handleAppendMessages adds messages to a stored conversation and returns
// its risk after the last one. Streaming gives the same result as scoring
// the whole conversation at once.
func (s *Server) handleAppendMessages(w http.ResponseWriter, r *http.Request) {
	if s.Conversations == nil {
		writeError(w, r, errNoConversations)
		return
	}
	var req appendRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	if len(req.Messages) == 0 {
		writeError(w, r, badRequest("messages is empty"))
		return
	}
	if len(req.Messages) > maxMessagesPerRequest {
		writeError(w, r, vigil.Errorf(vigil.ETOOLARGE, "at most %d messages per request", maxMessagesPerRequest))
		return
	}
	ref, err := platformIDs(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	listed, err := s.listEvidence(r, req.Messages)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var prevRisk json.RawMessage // before these messages, for the rules
	var risk grooming.Risk
	c, err := s.Conversations.UpdateConversation(r.Context(), r.PathValue("id"), s.ConversationRetention, func(c *vigil.Conversation) error {
		prevRisk = c.Risk
		st := grooming.NewState(req.Participants)
		if c.State != nil {
			st = new(grooming.State)
			if err := json.Unmarshal(c.State, st); err != nil {
				return fmt.Errorf("stored state of conversation %q: %w", c.ID, err)
			}
		}
		for _, m := range req.Messages {
			risk = s.Grooming.Append(st, m)
		}
		state, err := json.Marshal(st)
		if err != nil {
			return err
		}
		riskJSON, err := json.Marshal(risk)
		if err != nil {
			return err
		}
		c.State, c.Risk, c.Messages, c.Score, c.Flagged = state, riskJSON, risk.Messages, risk.Score, risk.Flagged
		return nil
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	resp := conversationResponse{Conversation: c, Risk: c.Risk}
	first := c.Messages - len(req.Messages)
	for i, res := range listed {
		if len(res.Matches) > 0 {
			resp.TextMatches = append(resp.TextMatches, messageMatches{Message: first + i, Matches: res.Matches})
		}
	}
	s.metrics.countMatches(listed)
	var prev *grooming.Risk
	if len(prevRisk) > 0 && json.Unmarshal(prevRisk, &prev) != nil {
		prev = nil
	}
	resp.Actions = s.Flow().Conversation(r.Context(), respond.Conversation{Ref: ref, ID: c.ID, Prev: prev, Risk: risk, Messages: req.Messages, First: first})
	writeJSON(w, http.StatusOK, resp)
}

// errNoConversations answers conversation requests on a server built
// without conversation storage.
var errNoConversations = vigil.Errorf(vigil.EUNSUPPORTED, "this server does not store conversations")

func (s *Server) handleGetConversation(w http.ResponseWriter, r *http.Request) {
	if s.Conversations == nil {
		writeError(w, r, errNoConversations)
		return
	}
	c, err := s.Conversations.FindConversation(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, conversationResponse{Conversation: c, Risk: c.Risk})
}

// handleScoreConversation scores a whole conversation without storing it.
func (s *Server) handleScoreConversation(w http.ResponseWriter, r *http.Request) {
	var c grooming.Conversation
	if err := decodeJSON(w, r, &c); err != nil {
		writeError(w, r, err)
		return
	}
	if len(c.Messages) > maxMessagesPerRequest {
		writeError(w, r, vigil.Errorf(vigil.ETOOLARGE, "at most %d messages per request", maxMessagesPerRequest))
		return
	}
	ref, err := platformIDs(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if _, err := s.listEvidence(r, c.Messages); err != nil {
		writeError(w, r, err)
		return
	}
	risk := s.Grooming.Score(c)
	actions := s.Flow().Conversation(r.Context(), respond.Conversation{Ref: ref, ID: c.ID, Risk: risk, Messages: c.Messages})
	if actions == nil {
		writeJSON(w, http.StatusOK, risk)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		grooming.Risk
		Actions *vigil.Outcome `json:"actions"`
	}{risk, actions})
}

// listedScore is the strength a curated list match lends its family: a
// curator's explicit entry counts as clear, though not conclusive, evidence.
const listedScore = 0.6

// listEvidence matches every message's text against the banks' URL and
// keyword entries, and hands the matches whose category names a grooming
// family (platform_move, gift, …) to the detector as listed evidence.
// Evidence the caller sent itself is dropped: only banks may add it.
func (s *Server) listEvidence(r *http.Request, msgs []grooming.Message) ([]vigil.MatchResult, error) {
	texts := make([]vigil.Signal, len(msgs))
	for i, m := range msgs {
		texts[i] = vigil.Signal{Type: vigil.SignalText, Value: m.Text}
	}
	results, err := s.Matcher.Lookup(r.Context(), texts, vigil.MatchOptions{})
	if err != nil {
		return nil, err
	}
	for i, res := range results {
		msgs[i].Listed = nil
		for _, m := range res.Matches {
			var f grooming.Family
			if f.UnmarshalText([]byte(m.Category)) != nil || len(m.Span) != 2 {
				continue
			}
			msgs[i].Listed = append(msgs[i].Listed, grooming.Listed{Family: f, Score: listedScore, Span: grooming.Span{Start: m.Span[0], End: m.Span[1]}})
		}
	}
	return results, nil
}
