package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"github.com/allot/allot"
	"github.com/allot/allot/store"
)

// TokenPrefix starts every token allot generates, so that one found in a
// log or a repository can be recognised.
const TokenPrefix = "allot_"

// NewToken returns a fresh random API token.
func NewToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// HashToken is what the store keeps of a token: its SHA-256, since tokens
// are long random strings (no salt or slow hash needed).
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreateMerchant creates a merchant with one API token; an empty token
// means a generated one. It returns the merchant id and the token, which
// is shown once and never stored.
func (s *Service) CreateMerchant(ctx context.Context, code, name, token string) (int64, string, error) {
	if err := checkCode("code", code); err != nil {
		return 0, "", err
	}
	if name == "" {
		name = code
	}
	if token == "" {
		token = NewToken()
	}
	if len(token) < 16 || len(token) > 200 || strings.ContainsAny(token, " \t\r\n") {
		return 0, "", allot.FieldError("token", "must be 16 to 200 characters without spaces")
	}
	var id int64
	err := s.DB.Admin(ctx, func(tx *store.Tx) error {
		var err error
		if id, err = tx.CreateMerchant(code, name); err != nil {
			return err
		}
		return tx.AddToken(id, "default", HashToken(token))
	})
	return id, token, err
}

// AddToken creates another API token for a merchant, named for the history.
func (s *Service) AddToken(ctx context.Context, merchant, name string) (string, error) {
	token := NewToken()
	err := s.DB.Admin(ctx, func(tx *store.Tx) error {
		id, err := tx.MerchantID(merchant)
		if err != nil {
			return err
		}
		return tx.AddToken(id, name, HashToken(token))
	})
	return token, err
}

// Authenticate returns who a bearer token speaks for; Unauthorized if it
// is no token of any merchant.
func (s *Service) Authenticate(ctx context.Context, token string) (Actor, error) {
	if token == "" {
		return Actor{}, allot.Errorf(allot.Unauthorized, "a bearer token is required")
	}
	m, name, ok, err := s.DB.TokenOwner(ctx, HashToken(token))
	if err != nil {
		return Actor{}, err
	}
	if !ok {
		return Actor{}, allot.Errorf(allot.Unauthorized, "invalid token")
	}
	return Actor{Merchant: m, Name: name}, nil
}

// History lists the audit history, newest first.
func (s *Service) History(ctx context.Context, who Actor, f store.HistoryFilter) ([]allot.HistoryEntry, error) {
	var out []allot.HistoryEntry
	err := s.read(ctx, who, func(tx *store.Tx) error {
		var err error
		out, err = tx.History(f)
		return err
	})
	return out, err
}
