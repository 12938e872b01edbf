// Package credentials finds, checks and stores the JoAi API token of the
// bridge. Tokens live in the OS keychain, or in a file of mode 0600 under
// the user configuration directory when there is no keychain (a headless
// Linux machine, CI). A [Chain] tries token sources in order, and every
// token it hands out has passed [Check].
//
//	store, err := credentials.NewStore(nil)
//	if err != nil { ... }
//	account := credentials.Account("https://cortex.joai.ai", agentUUID)
//	chain := credentials.NewChain(store.KeychainSource(account), store.FileSource(account))
//	tok, err := chain.Token(ctx)      // the stored token
//	tok, err = chain.Reload(ctx)      // after a 401: read the same source again
package credentials
