package cli

import (
	"errors"
	"flag"

	"github.com/joai-ai/joai-mcp/bridge/credentials"
	"github.com/joai-ai/joai-mcp/internal/redact"
)

const statusCommandUsage = "status [--agent UUID] [--mock-url URL] [--token-file FILE | --token-command CMD]"

// runStatus shows where the token comes from and its last four characters,
// without contacting the service.
func runStatus(inv *invocation) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	resolve := targetFlags(fs, inv)
	if ok, code := parseFlags(fs, inv, statusCommandUsage); !ok {
		return code
	}
	t, err := resolve()
	if err != nil {
		inv.errorf("%v", err)
		return exitUsage
	}
	store, err := inv.store()
	if err != nil {
		inv.errorf("%v", err)
		return exitFailed
	}

	inv.printf("Agent endpoint base: %s\nAPI base:            %s\n", t.baseURL, t.apiURL)
	if t.agent != "" {
		inv.printf("Agent:               %s\n", t.agent)
	} else {
		inv.printf("Agent:               none (pass --agent UUID, or run joai-bridge login --agent UUID)\n")
	}

	chain, err := inv.tokenChain(t, store)
	if err != nil {
		inv.printf("Token:               none\n")
		inv.errorf("%v", err)
		return exitFailed
	}
	tok, err := chain.Token(inv.ctx)
	if err != nil {
		inv.printf("Token:               none\n")
		inv.errorf("%v", err)
		return exitFailed
	}
	inv.printf("Token:               %s, from %s\n", redact.Token(tok), chain.Describe())

	// A stored token that the environment or a flag overrides is worth a
	// line, because the bridge will not use it.
	if t.agent != "" && chain.Current() != nil && !isStoreSource(chain, store, t) {
		if stored, loc, err := store.Load(t.endpoint()); err == nil {
			inv.printf("Also stored:         %s in %s, not used while %s is set\n", redact.Token(stored), loc, chain.Describe())
		} else if !errors.Is(err, credentials.ErrNotFound) {
			inv.errorf("reading the stored token: %v", err)
		}
	}
	return exitOK
}

// isStoreSource reports whether the chain's token came from the store.
func isStoreSource(chain *credentials.Chain, store *credentials.Store, t *target) bool {
	d := chain.Describe()
	return d == store.KeychainSource(t.endpoint()).Describe() || d == store.FileSource(t.endpoint()).Describe()
}
