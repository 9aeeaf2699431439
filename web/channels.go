package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/service"
	"github.com/allot/allot/store"
)

// channelsView is the data of the channels page.
type channelsView struct {
	Channels []channelSummary
}

// channelSummary is a channel with its synchronisation and readiness.
type channelSummary struct {
	allot.Channel
	Sync  service.SyncStatus
	Ready bool
}

// pushed reports whether allot pushes quantities to a platform.
func pushed(p allot.Platform) bool {
	return p == allot.Shopify || p == allot.Generic || p == allot.File
}

func (s *Server) channels(w http.ResponseWriter, r *request) error {
	ctx := r.Context()
	cs, err := s.svc.ListChannels(ctx, r.who)
	if err != nil {
		return err
	}
	rs, err := s.svc.ReadinessOf(ctx, r.who, "")
	if err != nil {
		return err
	}
	ready := map[string]bool{}
	for _, rd := range rs {
		ready[rd.Channel] = rd.Ready
	}
	var v channelsView
	for _, c := range cs {
		st, err := s.svc.Sync(ctx, r.who, c.Code)
		if err != nil {
			return err
		}
		st.Publications = nil // the list shows counts, the channel's page the rest
		v.Channels = append(v.Channels, channelSummary{Channel: c, Sync: st, Ready: ready[c.Code]})
	}
	return s.render(w, r, http.StatusOK, "channels", "Channels", "channels", v)
}

// channelView is the data of a channel's page.
type channelView struct {
	allot.Channel
	Pushed       bool
	Settings     []setting
	Sync         service.SyncStatus
	Publications []service.Publication
	Log          []store.PublicationEntry
	Readiness    *service.Readiness
}

// setting is one channel setting, secrets already redacted.
type setting struct{ Key, Value string }

func (s *Server) channel(w http.ResponseWriter, r *request) error {
	ctx, code := r.Context(), r.PathValue("code")
	c, err := s.svc.GetChannel(ctx, r.who, code)
	if err != nil {
		return err
	}
	v := channelView{Channel: c, Pushed: pushed(c.Platform)}
	for k, val := range c.Settings {
		v.Settings = append(v.Settings, setting{Key: k, Value: fmt.Sprint(val)})
	}
	sort.Slice(v.Settings, func(i, j int) bool { return v.Settings[i].Key < v.Settings[j].Key })
	if v.Sync, err = s.svc.Sync(ctx, r.who, code); err != nil {
		return err
	}
	v.Publications = v.Sync.Publications
	sort.SliceStable(v.Publications, func(i, j int) bool { return v.Publications[i].PushedAt.After(v.Publications[j].PushedAt) })
	v.Publications = v.Publications[:min(len(v.Publications), 30)]
	if v.Log, err = s.svc.PublicationLog(ctx, r.who, "", code, time.Time{}, 30); err != nil {
		return err
	}
	rs, err := s.svc.ReadinessOf(ctx, r.who, code)
	if err != nil {
		return err
	}
	if len(rs) == 1 {
		v.Readiness = &rs[0]
	}
	return s.render(w, r, http.StatusOK, "channel", c.Code, "channels", v)
}

// channelAction runs a channel's buttons: resync, link listings, check
// drift. They call the synchronisation, which talks to the channel now.
func (s *Server) channelAction(w http.ResponseWriter, r *request) error {
	ctx, code, action := r.Context(), r.PathValue("code"), r.PathValue("action")
	to := "/channels/" + code
	if _, err := s.svc.GetChannel(ctx, r.who, code); err != nil {
		return err
	}
	if s.sync == nil {
		return s.failed(w, r, to, "", allot.Errorf(allot.Conflict, "synchronisation is not running in this process"))
	}
	switch action {
	case "resync":
		if err := s.sync.Resync(ctx, r.who.Merchant, code); err != nil {
			return s.failed(w, r, to, "Resync", err)
		}
		return s.done(w, r, to, "Every listing of "+code+" will be pushed again within seconds.")
	case "link":
		res, err := s.sync.Link(ctx, r.who.Merchant, code)
		if err != nil {
			return s.failed(w, r, to, "Linking listings", reach(code, err))
		}
		msg := fmt.Sprintf("Read %s from %s: %d newly linked, %d already linked, %d without a matching product.",
			plural(res.Total, "listing", "listings"), code, res.Linked, res.Kept, len(res.Unmatched))
		if len(res.Unmatched) > 0 {
			msg += " Link those on the Readiness page."
		}
		return s.done(w, r, to, msg)
	case "drift":
		n, err := s.sync.CheckDrift(ctx, r.who.Merchant, code)
		if err != nil {
			return s.failed(w, r, to, "Checking drift", reach(code, err))
		}
		if n == 0 {
			return s.done(w, r, to, code+" shows what allot last published: no drift.")
		}
		return s.done(w, r, to, fmt.Sprintf("%s showed other quantities for %s; they are being mended.", code, plural(n, "listing", "listings")))
	}
	return allot.Errorf(allot.NotFound, "there is no action %q on a channel", action)
}

// reach describes a failure to talk to a channel: the operations manager
// needs its reason (a wrong address, a refused token) to fix the settings.
func reach(code string, err error) error {
	var e *allot.Error
	if errors.As(err, &e) || errors.Is(err, context.Canceled) {
		return err
	}
	return allot.Errorf(allot.Conflict, "could not reach channel %s: %v", code, err)
}
