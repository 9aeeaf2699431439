package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/service"
)

// Cookies of the web page.
const (
	sessionCookie = "allot_session" // the session id; the token itself never leaves the sign-in form
	signInCookie  = "allot_signin"  // the sign-in form's CSRF token, before there is a session
)

// Session lifetimes: a session ends after IdleTimeout without a request,
// and after MaxSessionAge in any case.
const (
	IdleTimeout   = 12 * time.Hour
	MaxSessionAge = 7 * 24 * time.Hour
	// recheck is how often a session's token is checked again, so that a
	// token that stops working signs its sessions out.
	recheck = 30 * time.Second
)

// session is a signed-in browser. Sessions live in the process's memory,
// keyed by the hash of a random id: the cookie carries only the id, never
// the token nor anything derived from it, so a copy of the database
// cannot forge a session. With several processes behind one address, a
// browser must keep to one of them (sticky sessions) or sign in again.
type session struct {
	key       string // hash of the id
	who       service.Actor
	tokenHash string
	csrf      string
	created   time.Time

	mu      sync.Mutex
	seen    time.Time
	checked time.Time
	flash   *flash
}

type sessions struct {
	mu sync.Mutex
	m  map[string]*session
}

func newSessions() *sessions { return &sessions{m: map[string]*session{}} }

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// secure reports whether the browser reached us over HTTPS, directly or
// through a proxy that says so: cookies are then sent over HTTPS only.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		Secure: secure(r), SameSite: http.SameSiteLaxMode})
}

// create starts a session for who and sets its cookie.
func (ss *sessions) create(w http.ResponseWriter, r *http.Request, who service.Actor, tokenHash string) *session {
	id := randomToken()
	now := time.Now()
	sess := &session{key: hashID(id), who: who, tokenHash: tokenHash, csrf: randomToken(), created: now, seen: now, checked: now}
	ss.mu.Lock()
	for k, old := range ss.m { // sweep ended sessions now and then
		if old.expired(now) {
			delete(ss.m, k)
		}
	}
	ss.m[sess.key] = sess
	ss.mu.Unlock()
	setCookie(w, r, sessionCookie, id, int(MaxSessionAge/time.Second))
	return sess
}

func (sess *session) expired(now time.Time) bool {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return now.Sub(sess.seen) > IdleTimeout || now.Sub(sess.created) > MaxSessionAge
}

// peek returns the request's live session, if any, without checking its
// token again.
func (ss *sessions) peek(r *http.Request) (*session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, false
	}
	ss.mu.Lock()
	sess, ok := ss.m[hashID(c.Value)]
	ss.mu.Unlock()
	if !ok || sess.expired(time.Now()) {
		return nil, false
	}
	return sess, true
}

// get returns the request's live session, checking now and then that its
// token still works; an ended session is forgotten and its cookie cleared.
func (ss *sessions) get(w http.ResponseWriter, r *http.Request, svc *service.Service) (*session, bool) {
	sess, ok := ss.peek(r)
	if !ok {
		if _, err := r.Cookie(sessionCookie); err == nil {
			setCookie(w, r, sessionCookie, "", -1)
		}
		return nil, false
	}
	now := time.Now()
	sess.mu.Lock()
	sess.seen = now
	due := now.Sub(sess.checked) > recheck
	sess.mu.Unlock()
	if due {
		m, _, valid, err := svc.DB.TokenOwner(r.Context(), sess.tokenHash)
		if err == nil && (!valid || m != sess.who.Merchant) {
			ss.end(sess)
			setCookie(w, r, sessionCookie, "", -1)
			return nil, false
		}
		if err == nil {
			sess.mu.Lock()
			sess.checked = now
			sess.mu.Unlock()
		}
	}
	return sess, true
}

func (ss *sessions) end(sess *session) {
	ss.mu.Lock()
	delete(ss.m, sess.key)
	ss.mu.Unlock()
}

// validCSRF reports whether a change carries the session's CSRF token: a
// page of another site cannot read it, so it cannot send it.
func (sess *session) validCSRF(r *http.Request) bool {
	got := r.FormValue("_csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) == 1
}

func (sess *session) setFlash(isErr bool, text string) {
	sess.mu.Lock()
	sess.flash = &flash{Error: isErr, Text: text}
	sess.mu.Unlock()
}

func (sess *session) takeFlash() *flash {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	f := sess.flash
	sess.flash = nil
	return f
}

// signInView is the data of the sign-in form.
type signInView struct {
	Next  string
	CSRF  string
	Error string
}

func (s *Server) signInForm(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.sessions.peek(r); ok {
		http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.showSignIn(w, r, http.StatusOK, "")
}

// showSignIn renders the form with a fresh CSRF token, kept in a cookie
// until the form comes back: there is no session yet to keep it in.
func (s *Server) showSignIn(w http.ResponseWriter, r *http.Request, status int, msg string) {
	token := randomToken()
	setCookie(w, r, signInCookie, token, 3600)
	v := signInView{Next: localPath(r.FormValue("next")), CSRF: token, Error: msg}
	if err := s.render(w, nil, status, "signin", "Sign in", "", v); err != nil {
		s.log.Error("web sign-in page", "err", err)
	}
}

func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := s.cross.Check(r); err != nil {
		s.forbidden(w, r, "This form was sent from another site, so it was refused.")
		return
	}
	c, err := r.Cookie(signInCookie)
	got := r.FormValue("_csrf")
	if err != nil || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(c.Value)) != 1 {
		s.showSignIn(w, r, http.StatusForbidden, "The sign-in form had expired; it was refused. Enter your token again.")
		return
	}
	token := strings.TrimSpace(r.FormValue("token"))
	if token == "" {
		s.showSignIn(w, r, http.StatusBadRequest, "API token: is required. Paste the token you were given for this merchant.")
		return
	}
	who, err := s.svc.Authenticate(r.Context(), token)
	if err != nil {
		if allot.ErrorCode(err) == allot.Unauthorized {
			s.showSignIn(w, r, http.StatusUnauthorized, "API token: this is not the token of any merchant. Check it and try again.")
			return
		}
		s.log.Error("web sign-in", "err", err)
		s.showSignIn(w, r, http.StatusInternalServerError, "Signing in failed on our side; it was logged. Try again in a moment.")
		return
	}
	setCookie(w, r, signInCookie, "", -1)
	s.sessions.create(w, r, who, service.HashToken(token))
	http.Redirect(w, r, localPath(r.FormValue("next")), http.StatusSeeOther)
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.sessions.peek(r)
	if ok {
		if err := s.cross.Check(r); err != nil || !sess.validCSRF(r) {
			s.forbidden(w, r, "This sign-out was not sent from allot's own page, so it was refused.")
			return
		}
		s.sessions.end(sess)
	}
	setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}
