package mockserver

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// agent is an agent of the store. Its fields other than memories never
// change after the store is built.
type agent struct {
	SeedAgent
	memories []*memory // creation order, guarded by store.mu
}

type memory struct {
	SeedMemory
}

// token is an API token as the server keeps it: a hash, never the value.
type token struct {
	id        string
	name      string
	hash      [sha256.Size]byte
	team      string
	agentUUID string
	createdAt time.Time
	limits    *Limits

	// status and revokedAt are guarded by store.mu.
	status    string
	revokedAt *time.Time
}

// store is the mutable state: agents, memories and tokens.
type store struct {
	path string // state file, or "" for memory only

	// mu guards every field below, and the mutable fields of the agents,
	// memories and tokens it holds. Writers hold it while persisting, so
	// every acknowledged write is in the file. The exception is a reset
	// whose write failed, which [Server.Reset] describes.
	mu         sync.RWMutex
	agents     map[string]*agent
	agentOrder []*agent
	memories   map[string]*memory
	tokens     []*token            // creation order
	byPrefix   map[uint64][]*token // first 8 bytes of the hash
	tokenIDs   map[string]*token
	nextMemory int
	nextToken  int
}

// hashToken returns the SHA-256 of a token value. A plain hash suffices
// because API tokens are long random strings, not guessable passwords.
func hashToken(value string) [sha256.Size]byte { return sha256.Sum256([]byte(value)) }

func hashPrefix(h [sha256.Size]byte) uint64 { return binary.BigEndian.Uint64(h[:8]) }

func newStoreFromSeed(s *Seed) *store {
	st := &store{}
	st.loadSeedLocked(s)
	return st
}

// loadSeedLocked replaces the state with the seed's.
func (st *store) loadSeedLocked(s *Seed) {
	st.agents = map[string]*agent{}
	st.agentOrder = nil
	st.memories = map[string]*memory{}
	st.tokens = nil
	st.byPrefix = map[uint64][]*token{}
	st.tokenIDs = map[string]*token{}
	for _, a := range s.Agents {
		a.Replies = slices.Clone(a.Replies)
		ag := &agent{SeedAgent: a}
		st.agents[a.UUID] = ag
		st.agentOrder = append(st.agentOrder, ag)
	}
	for _, m := range s.Memories {
		st.addMemoryLocked(&memory{SeedMemory: m})
	}
	for _, t := range s.Tokens {
		tok := &token{
			id: t.ID, name: t.Name, hash: hashToken(t.Value), team: t.Team,
			agentUUID: t.AgentUUID, createdAt: t.CreatedAt, status: orActive(t.Status),
			revokedAt: t.RevokedAt, limits: t.Limits,
		}
		st.addTokenLocked(tok)
	}
	st.nextMemory = len(s.Memories) + 1
	st.nextToken = len(s.Tokens) + 1
}

func orActive(status string) string {
	if status == "" {
		return statusActive
	}
	return status
}

func (st *store) addMemoryLocked(m *memory) {
	st.memories[m.ID] = m
	a := st.agents[m.AgentUUID]
	a.memories = append(a.memories, m)
}

func (st *store) addTokenLocked(t *token) {
	st.tokens = append(st.tokens, t)
	p := hashPrefix(t.hash)
	st.byPrefix[p] = append(st.byPrefix[p], t)
	st.tokenIDs[t.id] = t
}

// authenticate returns the active token whose value is v, or nil. The hash
// prefix only narrows the candidates; the full hash is compared in
// constant time.
func (st *store) authenticate(v string) (t *token, revoked bool) {
	h := hashToken(v)
	st.mu.RLock()
	defer st.mu.RUnlock()
	for _, c := range st.byPrefix[hashPrefix(h)] {
		if subtle.ConstantTimeCompare(c.hash[:], h[:]) == 1 {
			if c.status != statusActive {
				return nil, true
			}
			return c, false
		}
	}
	return nil, false
}

// agent returns the agent whose UUID is uuid in any letter case, or nil.
// UUIDs compare case-insensitively (RFC 9562, section 4), so a client that
// upper-cases one still reaches the agent.
func (st *store) agent(uuid string) *agent {
	st.mu.RLock()
	defer st.mu.RUnlock()
	if a := st.agents[uuid]; a != nil {
		return a
	}
	for _, a := range st.agentOrder {
		if strings.EqualFold(a.UUID, uuid) {
			return a
		}
	}
	return nil
}

func (st *store) teamAgents(team string) []*agent {
	st.mu.RLock()
	defer st.mu.RUnlock()
	var out []*agent
	for _, a := range st.agentOrder {
		if a.Team == team {
			out = append(out, a)
		}
	}
	return out
}

// memoriesOf returns copies of the agent's memories in creation order.
func (st *store) memoriesOf(a *agent) []SeedMemory {
	st.mu.RLock()
	defer st.mu.RUnlock()
	out := make([]SeedMemory, len(a.memories))
	for i, m := range a.memories {
		out[i] = m.SeedMemory
	}
	return out
}

// errPersist wraps a failure to write the state file; the change it was
// saving has been rolled back and was not acknowledged.
var errPersist = errors.New("saving state")

// errNoMemory is returned by updateMemory for an id the agent does not have.
var errNoMemory = errors.New("memory not found")

func (st *store) createMemory(a *agent, content string, now time.Time) (SeedMemory, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	m := &memory{SeedMemory{
		ID:        st.freeMemoryIDLocked(),
		AgentUUID: a.UUID, Content: content, CreatedAt: now, UpdatedAt: now,
	}}
	st.addMemoryLocked(m)
	st.nextMemory++
	if err := st.persistLocked(); err != nil {
		delete(st.memories, m.ID)
		a.memories = a.memories[:len(a.memories)-1]
		st.nextMemory--
		return SeedMemory{}, err
	}
	return m.SeedMemory, nil
}

// freeMemoryIDLocked returns the next "mem-NNNN" id that is not taken; a
// seed may use ids of that form out of order.
func (st *store) freeMemoryIDLocked() string {
	for n := st.nextMemory; ; n++ {
		id := fmt.Sprintf("mem-%04d", n)
		if _, taken := st.memories[id]; !taken {
			st.nextMemory = n
			return id
		}
	}
}

func (st *store) updateMemory(a *agent, id, content string, now time.Time) (SeedMemory, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	m := st.memories[id]
	if m == nil || m.AgentUUID != a.UUID {
		return SeedMemory{}, errNoMemory
	}
	old := m.SeedMemory
	m.Content, m.UpdatedAt = content, now
	if err := st.persistLocked(); err != nil {
		m.SeedMemory = old
		return SeedMemory{}, err
	}
	return m.SeedMemory, nil
}

// TokenInfo is a token as the management endpoints list it, which never
// includes its value.
type TokenInfo struct {
	// ID names the token in DELETE /api/tokens/{id}.
	ID string `json:"id"`
	// Name is the purpose given when the token was created.
	Name string `json:"name"`
	// Team and AgentUUID are the team and the one agent the token is for.
	Team      string `json:"team"`
	AgentUUID string `json:"agent_uuid"`
	// Status is "active" or "revoked".
	Status string `json:"status"`
	// CreatedAt is when the token was created.
	CreatedAt time.Time `json:"created_at"`
	// RevokedAt is when the token was revoked, or nil while it is active.
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

func (t *token) infoLocked() TokenInfo {
	return TokenInfo{
		ID: t.id, Name: t.name, Team: t.team, AgentUUID: t.agentUUID,
		Status: t.status, CreatedAt: t.createdAt, RevokedAt: t.revokedAt,
	}
}

func (st *store) listTokens(team string) []TokenInfo {
	st.mu.RLock()
	defer st.mu.RUnlock()
	out := []TokenInfo{}
	for _, t := range st.tokens {
		if t.team == team {
			out = append(out, t.infoLocked())
		}
	}
	return out
}

// createToken makes a new token for an agent and returns its value, which
// is never stored.
func (st *store) createToken(name string, a *agent, now time.Time) (TokenInfo, string, error) {
	var raw [20]byte
	rand.Read(raw[:])
	value := "joai_mock_" + hex.EncodeToString(raw[:])

	st.mu.Lock()
	defer st.mu.Unlock()
	id := fmt.Sprintf("tok_%04d", st.nextToken)
	for st.tokenIDs[id] != nil {
		st.nextToken++
		id = fmt.Sprintf("tok_%04d", st.nextToken)
	}
	t := &token{
		id: id, name: name, hash: hashToken(value), team: a.Team,
		agentUUID: a.UUID, createdAt: now, status: statusActive,
	}
	st.addTokenLocked(t)
	st.nextToken++
	if err := st.persistLocked(); err != nil {
		st.removeTokenLocked(t)
		st.nextToken--
		return TokenInfo{}, "", err
	}
	return t.infoLocked(), value, nil
}

func (st *store) removeTokenLocked(t *token) {
	st.tokens = slices.DeleteFunc(st.tokens, func(c *token) bool { return c == t })
	p := hashPrefix(t.hash)
	st.byPrefix[p] = slices.DeleteFunc(st.byPrefix[p], func(c *token) bool { return c == t })
	delete(st.tokenIDs, t.id)
}

// errNoToken is returned by revokeToken for an id the team does not have.
var errNoToken = errors.New("token not found")

func (st *store) revokeToken(team, id string, now time.Time) (TokenInfo, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	t := st.tokenIDs[id]
	if t == nil || t.team != team {
		return TokenInfo{}, errNoToken
	}
	if t.status == statusRevoked {
		return t.infoLocked(), nil
	}
	t.status, t.revokedAt = statusRevoked, &now
	if err := st.persistLocked(); err != nil {
		t.status, t.revokedAt = statusActive, nil
		return TokenInfo{}, err
	}
	return t.infoLocked(), nil
}

// reset replaces the state with the seed's and persists it.
func (st *store) reset(s *Seed) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.loadSeedLocked(s)
	return st.persistLocked()
}

// stateFile is the JSON form of the state file. Tokens appear only as
// hashes.
type stateFile struct {
	Version    int           `json:"version"`
	Agents     []SeedAgent   `json:"agents"`
	Tokens     []storedToken `json:"tokens"`
	Memories   []SeedMemory  `json:"memories"`
	NextMemory int           `json:"next_memory"`
	NextToken  int           `json:"next_token"`
}

type storedToken struct {
	TokenInfo
	SHA256 string  `json:"sha256"`
	Limits *Limits `json:"limits,omitempty"`
}

const stateVersion = 1

func (st *store) snapshotLocked() stateFile {
	sf := stateFile{Version: stateVersion, NextMemory: st.nextMemory, NextToken: st.nextToken}
	sf.Agents = make([]SeedAgent, 0, len(st.agentOrder))
	sf.Memories = []SeedMemory{}
	for _, a := range st.agentOrder {
		sf.Agents = append(sf.Agents, a.SeedAgent)
		for _, m := range a.memories {
			sf.Memories = append(sf.Memories, m.SeedMemory)
		}
	}
	sf.Tokens = make([]storedToken, 0, len(st.tokens))
	for _, t := range st.tokens {
		sf.Tokens = append(sf.Tokens, storedToken{
			TokenInfo: t.infoLocked(), SHA256: hex.EncodeToString(t.hash[:]), Limits: t.limits,
		})
	}
	return sf
}

// persistLocked writes the state file, if there is one, by atomic replace:
// a temporary file in the same directory is written and synced, renamed
// over the state file, and the directory is synced so that the rename
// itself survives a crash. Readers see either the old file or the new one.
func (st *store) persistLocked() error {
	if st.path == "" {
		return nil
	}
	data, err := json.MarshalIndent(st.snapshotLocked(), "", "  ")
	if err != nil {
		return fmt.Errorf("%w: encoding: %v", errPersist, err)
	}
	data = append(data, '\n')
	if err := writeFileAtomic(st.path, data); err != nil {
		return fmt.Errorf("%w: %v", errPersist, err)
	}
	return nil
}

func writeFileAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	// NOTE: Windows cannot sync a directory handle, so there a power loss
	// just after the rename may undo it. A killed process loses nothing,
	// because the rename is already in the operating system's cache.
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// openStore returns the state of the file at path if it exists, or the
// seed's state, written to path, if it does not.
func openStore(path string, seed *Seed) (*store, error) {
	st := newStoreFromSeed(seed)
	st.path = path
	if path == "" {
		return st, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		st.mu.Lock()
		defer st.mu.Unlock()
		if err := st.persistLocked(); err != nil {
			return nil, fmt.Errorf("creating state file %s: %w", path, err)
		}
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading state file: %w", err)
	}
	if err := st.loadStateFile(data); err != nil {
		return nil, fmt.Errorf("state file %s: %w (delete it to start again from the seed)", path, err)
	}
	return st, nil
}

func (st *store) loadStateFile(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var sf stateFile
	if err := dec.Decode(&sf); err != nil {
		return fmt.Errorf("decoding: %w", err)
	}
	if sf.Version != stateVersion {
		return fmt.Errorf("version %d is not supported: this server reads version %d", sf.Version, stateVersion)
	}
	seed := &Seed{Agents: sf.Agents, Memories: sf.Memories}
	if err := seed.Validate(); err != nil {
		return err
	}
	st.loadSeedLocked(seed)
	for i, t := range sf.Tokens {
		raw, err := hex.DecodeString(t.SHA256)
		if err != nil || len(raw) != sha256.Size {
			return fmt.Errorf("tokens[%d] (id %q): sha256 is not 64 hex digits", i, t.ID)
		}
		a := st.agents[t.AgentUUID]
		if a == nil || a.Team != t.Team {
			return fmt.Errorf("tokens[%d] (id %q): agent %q of team %q is not in the file", i, t.ID, t.AgentUUID, t.Team)
		}
		if t.Status != statusActive && t.Status != statusRevoked {
			return fmt.Errorf("tokens[%d] (id %q): status %q is invalid", i, t.ID, t.Status)
		}
		if st.tokenIDs[t.ID] != nil {
			return fmt.Errorf("tokens[%d]: duplicate id %q", i, t.ID)
		}
		tok := &token{
			id: t.ID, name: t.Name, team: t.Team, agentUUID: t.AgentUUID, createdAt: t.CreatedAt,
			status: t.Status, revokedAt: t.RevokedAt, limits: t.Limits,
		}
		copy(tok.hash[:], raw)
		st.addTokenLocked(tok)
	}
	st.nextMemory = max(sf.NextMemory, 1)
	st.nextToken = max(sf.NextToken, 1)
	return nil
}
