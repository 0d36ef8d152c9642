package classify

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// HTTP is the adapter for the uniform contract, as ROOST's classifier
// gateway Pigeon serves it (POST /v1/classify): the request names a model
// and carries the input, {"model": M, "input": {"text": …}} for text or
// {"model": M, "input": {"mediaUrl": "data:TYPE;base64,…"}} for media,
// which travels inline as a data URL so that Vigil never publishes the
// content at an address; the reply is {"model": M, "results": [{"label",
// "score"}]} (ParseReply).
type HTTP struct {
	URL    string       // the classify endpoint
	Model  string       // the model the gateway is asked for
	Token  string       // sent as a bearer token when set
	Client *http.Client // nil: a client without a timeout (Guard bounds each call)
}

type uniformRequest struct {
	Model string       `json:"model"`
	Input uniformInput `json:"input"`
}

type uniformInput struct {
	Text     string `json:"text,omitempty"`
	MediaURL string `json:"mediaUrl,omitempty"`
}

// Classify makes one request.
func (h *HTTP) Classify(ctx context.Context, c Content) (Result, error) {
	body, err := h.request(c)
	if err != nil {
		return Result{}, err
	}
	data, err := post(ctx, h.Client, h.URL, body, func(r *http.Request) {
		if h.Token != "" {
			r.Header.Set("Authorization", "Bearer "+h.Token)
		}
	})
	if err != nil {
		return Result{}, err
	}
	return ParseReply(data)
}

// request encodes the request for c. Media is base64-encoded straight
// into the body, which needs no JSON escaping, rather than through a
// string and the JSON encoder: the body is the size of the content and a
// third, and is made once.
func (h *HTTP) request(c Content) ([]byte, error) {
	if strings.HasPrefix(c.MediaType, "text/") {
		body, err := json.Marshal(uniformRequest{Model: h.Model, Input: uniformInput{Text: string(c.Data)}})
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		return body, nil
	}
	model, err := json.Marshal(h.Model)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	mediaType, err := json.Marshal("data:" + c.MediaType + ";base64,")
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	mediaType = mediaType[:len(mediaType)-1] // the string goes on with the data
	n := base64.StdEncoding.EncodedLen(len(c.Data))
	body := make([]byte, 0, len(`{"model":,"input":{"mediaUrl":"}}`)+len(model)+len(mediaType)+n)
	body = append(body, `{"model":`...)
	body = append(body, model...)
	body = append(body, `,"input":{"mediaUrl":`...)
	body = append(body, mediaType...)
	body = base64.StdEncoding.AppendEncode(body, c.Data)
	body = append(body, `"}}`...)
	return body, nil
}

// post sends body to u and returns the reply's body, at most
// MaxReplyBytes. Failures name no URL (one may hold a secret) and say
// whether to retry: the network and 5xx and 429 replies may pass, other
// statuses will not.
func post(ctx context.Context, client *http.Client, u string, body []byte, set func(*http.Request)) ([]byte, error) {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, errors.New("bad classifier url")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	set(req)
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, passing(fmt.Errorf("request: %w", err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("classifier answered %s", resp.Status)
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return nil, passing(err)
		}
		return nil, err
	}
	return readReply(resp.Body)
}
