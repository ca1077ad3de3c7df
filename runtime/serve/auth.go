package serve

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
)

// auth checks per-model bearer tokens. A model with tokens needs one of them in
// "Authorization: Bearer T"; a model without tokens is open. Tokens are compared as SHA-256
// digests in constant time, against every configured token, so neither the time taken nor
// an early exit tells which token or model came close.
type auth struct {
	entries []tokenEntry
	guarded map[string]bool
}

type tokenEntry struct {
	model string
	sum   [sha256.Size]byte
}

func newAuth(tokens map[string][]string) (*auth, error) {
	a := &auth{guarded: map[string]bool{}}
	for model, ts := range tokens {
		if model == "" {
			return nil, fmt.Errorf("tokens: empty model name")
		}
		for i, t := range ts {
			if t == "" || strings.ContainsAny(t, " \t\r\n") {
				return nil, fmt.Errorf("tokens: token %d of model %q is empty or holds white space", i, model)
			}
			a.entries = append(a.entries, tokenEntry{model: model, sum: sha256.Sum256([]byte(t))})
			a.guarded[model] = true
		}
	}
	return a, nil
}

// check returns 0 when the request may use model, else 401 (no token, or one nobody
// holds) or 403 (a valid token of another model), with a message that never repeats the
// token.
func (a *auth) check(r *http.Request, model string) (int, string) {
	if !a.guarded[model] {
		return 0, ""
	}
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return http.StatusUnauthorized, fmt.Sprintf("model %q needs a bearer token (Authorization: Bearer <token>)", model)
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	known, mine := 0, 0
	for i := range a.entries {
		eq := subtle.ConstantTimeCompare(sum[:], a.entries[i].sum[:])
		known |= eq
		if a.entries[i].model == model {
			mine |= eq
		}
	}
	switch {
	case mine == 1:
		return 0, ""
	case known == 1:
		return http.StatusForbidden, fmt.Sprintf("the bearer token is not valid for model %q", model)
	}
	return http.StatusUnauthorized, fmt.Sprintf("invalid bearer token for model %q", model)
}
