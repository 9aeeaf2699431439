// Package filechannel connects allot to a platform that exchanges files
// (SFTP-style): allot writes each push as a CSV file of quantities into
// <folder>/quantities for pickup, and imports the CSV order files dropped
// into <folder>/orders, moving each to orders/done or, refused whole with
// its reason beside it, to orders/failed.
package filechannel

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/csvio"
	"github.com/allot/allot/service"
	"github.com/allot/allot/store"
	"github.com/allot/allot/syncer"
)

// Connector writes a channel's pushes as files.
type Connector struct {
	Folder string
	Now    func() time.Time
	seq    atomic.Int64
}

// New builds the connector of a channel from its settings: folder.
func New(ch store.ChannelRow) (syncer.Connector, error) {
	folder, _ := ch.Settings["folder"].(string)
	if folder == "" {
		return nil, fmt.Errorf("channel %s needs the setting folder", ch.Code)
	}
	return &Connector{Folder: folder, Now: time.Now}, nil
}

// MaxBatch: one file holds up to 10,000 quantities.
func (c *Connector) MaxBatch() int { return 10000 }

// Push writes one file, atomically: a reader never sees half a file.
func (c *Connector) Push(ctx context.Context, items []syncer.Item) ([]syncer.Result, error) {
	dir := filepath.Join(c.Folder, "quantities")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"listing", "sku", "quantity"})
	for _, it := range items {
		w.Write([]string{it.ExternalID, it.SKU, strconv.Itoa(it.Quantity)})
	}
	w.Flush()
	name := fmt.Sprintf("quantities-%s-%06d.csv", c.Now().UTC().Format("20060102T150405.000000000Z"), c.seq.Add(1))
	tmp := filepath.Join(dir, "."+name+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return nil, err
	}
	return make([]syncer.Result, len(items)), nil
}

// Read: a folder cannot tell what the platform shows.
func (c *Connector) Read(context.Context, []syncer.Item) (map[string]int, error) {
	return map[string]int{}, nil
}

// Check makes sure the folders exist and can be written.
func (c *Connector) Check(context.Context) error {
	for _, d := range []string{"quantities", "orders"} {
		if err := os.MkdirAll(filepath.Join(c.Folder, d), 0o755); err != nil {
			return err
		}
	}
	probe := filepath.Join(c.Folder, "quantities", ".allot-check")
	if err := os.WriteFile(probe, nil, 0o644); err != nil {
		return err
	}
	return os.Remove(probe)
}

// Poller imports the order files of every file channel.
type Poller struct {
	DB      *store.DB
	Service *service.Service
	Log     *slog.Logger
	Every   time.Duration
}

// Run polls until ctx ends.
func (p *Poller) Run(ctx context.Context) {
	if p.Every == 0 {
		p.Every = 2 * time.Second
	}
	t := time.NewTicker(p.Every)
	defer t.Stop()
	for {
		if err := p.Poll(ctx); err != nil && ctx.Err() == nil {
			p.Log.Error("file channel poll", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Poll imports the order files waiting now, oldest name first.
func (p *Poller) Poll(ctx context.Context) error {
	owners, codes, err := p.DB.ChannelsOfPlatform(ctx, string(allot.File))
	if err != nil {
		return err
	}
	for i, o := range owners {
		var settings map[string]any
		json.Unmarshal([]byte(o.Settings), &settings)
		folder, _ := settings["folder"].(string)
		if folder == "" {
			continue
		}
		dir := filepath.Join(folder, "orders")
		names, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
		sort.Strings(names)
		for _, name := range names {
			if err := p.importFile(ctx, service.Actor{Merchant: o.Merchant, Name: "file channel " + codes[i]}, codes[i], name); err != nil {
				return err
			}
		}
	}
	return nil
}

// importFile imports one order file and moves it away: to done, or to
// failed with a .error.txt beside it.
func (p *Poller) importFile(ctx context.Context, who service.Actor, channel, name string) error {
	raw, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	body, err := withChannel(raw, channel)
	if err == nil {
		_, err = csvio.Import(ctx, p.Service, who, "orders", bytes.NewReader(body))
	}
	if err != nil && allot.ErrorCode(err) == allot.Internal {
		return err // the database failed, not the file: try again later
	}
	dest := "done"
	if err != nil {
		dest = "failed"
	}
	dir := filepath.Join(filepath.Dir(name), dest)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	target := filepath.Join(dir, filepath.Base(name))
	if err != nil {
		msg := err.Error()
		if e, ok := err.(*allot.Error); ok {
			msg = e.Field + ": " + e.Message
		}
		os.WriteFile(target+".error.txt", []byte(msg+"\n"), 0o644)
	}
	return os.Rename(name, target)
}

// withChannel adds the channel column to a file that has none, and refuses
// a file that names another channel.
func withChannel(raw []byte, channel string) ([]byte, error) {
	r := csv.NewReader(bytes.NewReader(raw))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil || len(rows) == 0 {
		return raw, nil // csvio says what is wrong with it
	}
	col := -1
	for i, h := range rows[0] {
		if strings.EqualFold(strings.TrimSpace(h), "channel") {
			col = i
		}
	}
	if col >= 0 {
		for i, row := range rows[1:] {
			if col < len(row) && strings.TrimSpace(row[col]) != channel {
				return nil, allot.FieldError(fmt.Sprintf("line %d.channel", i+2), "names %q; this folder belongs to channel %q", row[col], channel)
			}
		}
		return raw, nil
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	for i, row := range rows {
		v := channel
		if i == 0 {
			v = "channel"
		}
		w.Write(append([]string{v}, row...))
	}
	w.Flush()
	return buf.Bytes(), nil
}
