package mockserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/joai-ai/joai-mcp/fixtures"
)

// Seed is the state a server starts from: limits, agents with their teams,
// characters and replies, API tokens in clear text, and memories. It is the
// shape of fixtures/seed.json. [Server.Info] takes its values from the seed:
// the first agent, the first active token of that agent, the first revoked
// token of that agent, and the first agent of another team with an active
// token of its own.
type Seed struct {
	// Limits are the default per-token limits. Zero fields take the
	// package defaults; Options.Limits overrides them field by field.
	Limits Limits `json:"limits"`
	// Agents are the agents the server knows, in listing order.
	Agents []SeedAgent `json:"agents"`
	// Tokens are the API tokens the server accepts or rejects as revoked.
	Tokens []SeedToken `json:"tokens"`
	// Memories are the agents' stored memories, in creation order.
	Memories []SeedMemory `json:"memories"`
}

// SeedAgent is one agent of a [Seed].
type SeedAgent struct {
	// UUID is the agent's id in /mcp/agents/{uuid} and in resource URIs.
	UUID string `json:"uuid"`
	// Team is the id of the team that owns the agent.
	Team string `json:"team"`
	// Name is the agent's display name.
	Name string `json:"name"`
	// Character is the system prompt served as the character resource; the
	// first sentence also opens prompt_agent's default reply.
	Character string `json:"character"`
	// Info holds extra fields of the info resource, besides uuid, name and
	// team, which the server adds itself. Nil means none.
	Info map[string]any `json:"info,omitempty"`
	// Replies script prompt_agent: the first reply whose Contains occurs in
	// the message is returned. A message that matches none gets a reply
	// built from the character and the message.
	Replies []SeedReply `json:"replies,omitempty"`
}

// SeedReply is one scripted prompt_agent reply.
type SeedReply struct {
	// Contains is the substring that selects this reply, matched
	// case-sensitively against the message.
	Contains string `json:"contains"`
	// Reply is the text returned.
	Reply string `json:"reply"`
}

// SeedToken is one API token of a [Seed]. The value is in clear text so
// that tests and [Server.Info] can use it; the server keeps only its hash.
type SeedToken struct {
	// ID identifies the token in the token management endpoints.
	ID string `json:"id"`
	// Name describes the token's purpose, as set when it was created.
	Name string `json:"name"`
	// Value is the secret a client sends as "Authorization: Bearer <value>".
	Value string `json:"value"`
	// Team must be the team of the agent the token is for.
	Team string `json:"team"`
	// AgentUUID is the one agent the token gives access to.
	AgentUUID string `json:"agent_uuid"`
	// Status is "active" or "revoked"; empty means "active".
	Status string `json:"status,omitempty"`
	// CreatedAt is the creation time shown in token listings.
	CreatedAt time.Time `json:"created_at"`
	// RevokedAt is when a revoked token was revoked; nil when active.
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	// Limits, when set, replace the server's limits for this token field by
	// field. Nil means the server's limits.
	Limits *Limits `json:"limits,omitempty"`
}

// SeedMemory is one stored memory of an agent.
type SeedMemory struct {
	// ID is the memory id that update_memory takes as memoryId.
	ID string `json:"id"`
	// AgentUUID is the agent the memory belongs to.
	AgentUUID string `json:"agent_uuid"`
	// Content is the memory text.
	Content string `json:"content"`
	// CreatedAt and UpdatedAt are shown in the memories resource.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Token status values.
const (
	statusActive  = "active"
	statusRevoked = "revoked"
)

// DefaultSeed returns a fresh copy of the seed embedded from
// fixtures/seed.json. It panics if that file is invalid, which a test of
// this package rules out.
func DefaultSeed() *Seed {
	s, err := ParseSeed(fixtures.Seed)
	if err != nil {
		panic("mockserver: embedded fixtures/seed.json: " + err.Error())
	}
	return s
}

// LoadSeed reads and validates a seed file.
func LoadSeed(path string) (*Seed, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading seed: %w", err)
	}
	s, err := ParseSeed(data)
	if err != nil {
		return nil, fmt.Errorf("seed %s: %w", path, err)
	}
	return s, nil
}

// ParseSeed decodes and validates a seed. Unknown fields are rejected so
// that a misspelt field is reported instead of ignored.
func ParseSeed(data []byte) (*Seed, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s Seed
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("decoding seed JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decoding seed JSON: extra data after the top-level object")
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// Validate reports the first inconsistency in s: a missing field, a
// duplicate id or token value, a token whose team is not its agent's team,
// an unknown status, or a memory of an unknown agent.
func (s *Seed) Validate() error {
	if err := s.Limits.validate(); err != nil {
		return fmt.Errorf("limits: %w", err)
	}
	if len(s.Agents) == 0 {
		return errors.New("no agents: add at least one entry to \"agents\"")
	}
	teams := map[string]string{}
	for i, a := range s.Agents {
		if a.UUID == "" || a.Team == "" || a.Name == "" {
			return fmt.Errorf("agents[%d]: uuid, team and name are required", i)
		}
		if _, dup := teams[a.UUID]; dup {
			return fmt.Errorf("agents[%d]: duplicate uuid %q", i, a.UUID)
		}
		teams[a.UUID] = a.Team
	}
	ids := map[string]bool{}
	values := map[string]bool{}
	for i, t := range s.Tokens {
		if err := validateSeedToken(t, teams); err != nil {
			return fmt.Errorf("tokens[%d] (id %q): %w", i, t.ID, err)
		}
		if ids[t.ID] {
			return fmt.Errorf("tokens[%d]: duplicate id %q", i, t.ID)
		}
		if values[t.Value] {
			return fmt.Errorf("tokens[%d] (id %q): its value is also used by an earlier token", i, t.ID)
		}
		ids[t.ID], values[t.Value] = true, true
	}
	memIDs := map[string]bool{}
	for i, m := range s.Memories {
		if m.ID == "" {
			return fmt.Errorf("memories[%d]: id is required", i)
		}
		if memIDs[m.ID] {
			return fmt.Errorf("memories[%d]: duplicate id %q", i, m.ID)
		}
		if _, ok := teams[m.AgentUUID]; !ok {
			return fmt.Errorf("memories[%d] (id %q): unknown agent_uuid %q", i, m.ID, m.AgentUUID)
		}
		memIDs[m.ID] = true
	}
	return nil
}

func validateSeedToken(t SeedToken, teams map[string]string) error {
	if t.ID == "" || t.Name == "" {
		return errors.New("id and name are required")
	}
	if len(t.Value) < minTokenLength {
		return fmt.Errorf("value is shorter than %d characters", minTokenLength)
	}
	team, ok := teams[t.AgentUUID]
	if !ok {
		return fmt.Errorf("unknown agent_uuid %q", t.AgentUUID)
	}
	if t.Team != team {
		return fmt.Errorf("team %q is not the team of agent %q (%q)", t.Team, t.AgentUUID, team)
	}
	if t.Status != "" && t.Status != statusActive && t.Status != statusRevoked {
		return fmt.Errorf("status %q is invalid: use %q or %q", t.Status, statusActive, statusRevoked)
	}
	if t.Limits != nil {
		if err := t.Limits.validate(); err != nil {
			return fmt.Errorf("limits: %w", err)
		}
	}
	return nil
}

// minTokenLength keeps seed tokens long enough that their redacted form,
// the last four characters, reveals little.
const minTokenLength = 16

// info derives the values of the startup line from the seed; URL is left
// for the caller.
func (s *Seed) info() Info {
	var in Info
	first := s.Agents[0]
	in.AgentUUID = first.UUID
	for _, t := range s.Tokens {
		if t.AgentUUID != first.UUID {
			continue
		}
		if t.Status == statusRevoked {
			if in.RevokedToken == "" {
				in.RevokedToken = t.Value
			}
		} else if in.Token == "" {
			in.Token = t.Value
		}
	}
	for _, a := range s.Agents {
		if a.Team == first.Team {
			continue
		}
		for _, t := range s.Tokens {
			if t.AgentUUID == a.UUID && t.Status != statusRevoked {
				in.OtherAgentUUID, in.OtherTeamToken = a.UUID, t.Value
				return in
			}
		}
	}
	return in
}
