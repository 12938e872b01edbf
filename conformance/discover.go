package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/joai-ai/joai-mcp/mockserver"
)

// DiscoverMock fills the empty fields of a target that is a joai-mock from
// its control API: GET /_mock/info gives the agent, the token, the revoked
// token and the other team's agent, and GET /_mock/limits the limits.
// Fields already set are kept. It sets MockControl. Nil client means
// http.DefaultClient.
func DiscoverMock(ctx context.Context, client *http.Client, t *HTTPTarget) error {
	if client == nil {
		client = http.DefaultClient
	}
	base := strings.TrimRight(t.URL, "/")
	var info mockserver.Info
	if err := getJSON(ctx, client, base+"/_mock/info", &info); err != nil {
		return err
	}
	var limits mockserver.Limits
	if err := getJSON(ctx, client, base+"/_mock/limits", &limits); err != nil {
		return err
	}
	fill := func(field *string, value string) {
		if *field == "" {
			*field = value
		}
	}
	fill(&t.AgentUUID, info.AgentUUID)
	fill(&t.Token, info.Token)
	fill(&t.RevokedToken, info.RevokedToken)
	fill(&t.OtherAgentUUID, info.OtherAgentUUID)
	if t.Limits == nil {
		t.Limits = &Limits{RequestsPerMinute: limits.RequestsPerMinute, Burst: limits.Burst, Concurrent: limits.Concurrent, Window: limits.Window}
	}
	t.MockControl = true
	return nil
}

// getJSON fetches and decodes one JSON document.
func getJSON(ctx context.Context, client *http.Client, url string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("reading the mock's control API: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("reading the mock's control API: GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reading the mock's control API: GET %s: %s: is the target a joai-mock on a loopback address?", url, resp.Status)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("reading the mock's control API: GET %s: %w", url, err)
	}
	return nil
}
