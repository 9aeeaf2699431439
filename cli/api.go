package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/allot/allot"
	"github.com/schollz/progressbar/v3"
)

// printJSON writes v indented.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 2, 4, 2, ' ', 0) }

func importFile(env *Env) error {
	fs := flags("import", env)
	var a apiFlags
	a.add(fs)
	pos, err := parse(fs, env.Args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("say: import KIND FILE (KIND: products, stock, listings, allocations, orders)")
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	f, err := os.Open(pos[1])
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	// The bar follows the upload; the server then applies the file in one
	// transaction, which the spinner-like description tells.
	bar := progressbar.NewOptions64(info.Size(), progressbar.OptionSetWriter(env.Stderr), progressbar.OptionShowBytes(true),
		progressbar.OptionSetDescription("uploading "+pos[0]), progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintf(env.Stderr, "\napplying %s…\n", pos[0]) }),
		progressbar.OptionSetVisibility(info.Size() > 256<<10))
	r := progressbar.NewReader(f, bar)
	var out struct {
		Kind     string `json:"kind"`
		Imported int    `json:"imported"`
	}
	if err := c.Upload(env.Context, "/v1/import/"+url.PathEscape(pos[0]), "text/csv", &r, &out); err != nil {
		return err
	}
	if a.json {
		return printJSON(env.Stdout, out)
	}
	fmt.Fprintf(env.Stdout, "imported %d %s from %s\n", out.Imported, out.Kind, pos[1])
	return nil
}

func exportFile(env *Env) error {
	fs := flags("export", env)
	var a apiFlags
	a.add(fs)
	pos, err := parse(fs, env.Args)
	if err != nil {
		return err
	}
	if len(pos) < 1 || len(pos) > 2 {
		return usagef("say: export KIND [FILE]")
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	var w io.Writer = env.Stdout
	if len(pos) == 2 {
		f, err := os.Create(pos[1])
		if err != nil {
			return err
		}
		defer f.Close()
		bar := progressbar.DefaultBytes(-1, "downloading "+pos[0])
		progressbar.OptionSetWriter(env.Stderr)(bar)
		w = io.MultiWriter(f, bar)
		defer fmt.Fprintln(env.Stderr)
	}
	return c.Download(env.Context, "/v1/export/"+url.PathEscape(pos[0]), w)
}

func quantities(env *Env) error {
	fs := flags("quantities", env)
	var a apiFlags
	a.add(fs)
	pos, err := parse(fs, env.Args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("say: quantities CHANNEL")
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	var out struct {
		Quantities []struct {
			SKU      string  `json:"sku"`
			Listing  *string `json:"listing"`
			Quantity int     `json:"quantity"`
		} `json:"quantities"`
	}
	if err := c.Do(env.Context, "GET", "/v1/channels/"+url.PathEscape(pos[0])+"/quantities", nil, &out); err != nil {
		return err
	}
	if a.json {
		return printJSON(env.Stdout, out)
	}
	tw := table(env.Stdout)
	fmt.Fprintln(tw, "SKU\tLISTING\tQUANTITY")
	for _, q := range out.Quantities {
		l := "-"
		if q.Listing != nil {
			l = *q.Listing
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\n", q.SKU, l, q.Quantity)
	}
	return tw.Flush()
}

func explain(env *Env) error {
	fs := flags("explain", env)
	var a apiFlags
	a.add(fs)
	pos, err := parse(fs, env.Args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("say: explain CHANNEL SKU")
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	var out map[string]any
	if err := c.Do(env.Context, "GET", "/v1/quantities/"+url.PathEscape(pos[0])+"/"+url.PathEscape(pos[1]), nil, &out); err != nil {
		return err
	}
	if a.json {
		return printJSON(env.Stdout, out)
	}
	fmt.Fprintln(env.Stdout, out["explanation"])
	return nil
}

func allocations(env *Env) error {
	fs := flags("allocations", env)
	var a apiFlags
	a.add(fs)
	all := fs.Bool("all", false, "include ended allocations")
	if _, err := parse(fs, env.Args); err != nil {
		return err
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	var out struct {
		Allocations []allot.Allocation `json:"allocations"`
	}
	if err := c.Do(env.Context, "GET", "/v1/allocations?current="+strconv.FormatBool(!*all), nil, &out); err != nil {
		return err
	}
	if a.json {
		return printJSON(env.Stdout, out)
	}
	tw := table(env.Stdout)
	fmt.Fprintln(tw, "ID\tNAME\tPURPOSE\tCHANNELS\tSKU\tQUANTITY\tCONSUMED\tREMAINING\tACTIVE")
	for _, al := range out.Allocations {
		chs := make([]string, len(al.Channels))
		for i, ch := range al.Channels {
			chs[i] = ch.Channel + ":" + string(ch.Rule)
		}
		if len(chs) == 0 {
			chs = []string{"(none)"}
		}
		if al.AllSKUs != nil {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t*\t%d\t\t\t%v\n", al.ID, al.Name, al.Purpose, strings.Join(chs, ","), al.AllSKUs.Quantity, al.Active)
			continue
		}
		for _, l := range al.Lines {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%v\n", al.ID, al.Name, al.Purpose, strings.Join(chs, ","), l.SKU, l.Quantity,
				l.Consumed, l.Remaining, al.Active)
		}
	}
	return tw.Flush()
}

// skuQuantities parses --sku SKU:QTY flags into lines.
func skuQuantities(skus []string) ([]map[string]any, error) {
	var lines []map[string]any
	for _, s := range skus {
		sku, q, ok := strings.Cut(s, ":")
		n, err := strconv.Atoi(q)
		if !ok || err != nil {
			return nil, usagef("--sku takes SKU:QUANTITY, not %q", s)
		}
		lines = append(lines, map[string]any{"sku": sku, "quantity": n})
	}
	return lines, nil
}

func allocate(purpose allot.Purpose) func(*Env) error {
	return func(env *Env) error {
		fs := flags(string(purpose), env)
		var a apiFlags
		a.add(fs)
		var channels, skus multi
		fs.Var(&channels, "channel", "a channel, as CODE or CODE:RULE (rule follow_allocation or use_available); repeat for several")
		fs.Var(&skus, "sku", "SKU:QUANTITY; repeat for several")
		all := fs.Int("all-skus", -1, "one quantity for every SKU, instead of --sku")
		name := fs.String("name", "", "a name for the allocation")
		priority := fs.Int("priority", 0, "serving order among use_available reserves (smallest first)")
		inbound := fs.Int64("inbound", 0, "presell: the inbound shipment that ends it when received")
		if _, err := parse(fs, env.Args); err != nil {
			return err
		}
		body := map[string]any{"purpose": purpose, "name": *name, "priority": *priority}
		var chs []map[string]any
		for _, ch := range channels {
			code, rule, _ := strings.Cut(ch, ":")
			if rule == "" {
				rule = string(allot.FollowAllocation)
			}
			chs = append(chs, map[string]any{"channel": code, "rule": rule})
		}
		body["channels"] = chs
		if *all >= 0 {
			body["all_skus"] = map[string]any{"quantity": *all}
		} else {
			lines, err := skuQuantities(skus)
			if err != nil {
				return err
			}
			body["lines"] = lines
		}
		if *inbound > 0 {
			body["inbound"] = *inbound
		}
		return post(env, a, "/v1/allocations", body)
	}
}

func post(env *Env, a apiFlags, path string, body any) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	var out allot.Allocation
	if err := c.Do(env.Context, "POST", path, body, &out); err != nil {
		return err
	}
	if a.json {
		return printJSON(env.Stdout, out)
	}
	fmt.Fprintf(env.Stdout, "created %s %q (allocation %d)\n", out.Purpose, out.Name, out.ID)
	return nil
}

func buffer(env *Env) error {
	fs := flags("buffer", env)
	var a apiFlags
	a.add(fs)
	var skus multi
	fs.Var(&skus, "sku", "SKU:QUANTITY; repeat for several")
	all := fs.Int("all-skus", -1, "one quantity for every SKU, instead of --sku")
	channel := fs.String("channel", "", "the manual-orders channel that may use the buffer (none: a pure safety margin)")
	name := fs.String("name", "", "a name for the buffer")
	if _, err := parse(fs, env.Args); err != nil {
		return err
	}
	body := map[string]any{"name": *name, "channel": *channel}
	if *all >= 0 {
		body["all_skus"] = map[string]any{"quantity": *all}
	} else {
		lines, err := skuQuantities(skus)
		if err != nil {
			return err
		}
		body["lines"] = lines
	}
	return post(env, a, "/v1/buffers", body)
}

func stop(env *Env) error {
	fs := flags("stop", env)
	var a apiFlags
	a.add(fs)
	var channels, skus multi
	fs.Var(&channels, "channel", "a channel to stop selling on; repeat for several")
	fs.Var(&skus, "sku", "a SKU to stop selling; repeat for several")
	all := fs.Bool("all-skus", false, "stop selling every SKU")
	name := fs.String("name", "", "a name for the stop")
	if _, err := parse(fs, env.Args); err != nil {
		return err
	}
	return post(env, a, "/v1/stops", map[string]any{"name": *name, "channels": []string(channels), "skus": []string(skus), "all_skus": *all})
}

func end(env *Env) error {
	fs := flags("end", env)
	var a apiFlags
	a.add(fs)
	pos, err := parse(fs, env.Args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("say: end ALLOCATION_ID")
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	var out allot.Allocation
	if err := c.Do(env.Context, "DELETE", "/v1/allocations/"+url.PathEscape(pos[0]), nil, &out); err != nil {
		return err
	}
	if a.json {
		return printJSON(env.Stdout, out)
	}
	fmt.Fprintf(env.Stdout, "ended %s %q (allocation %d)\n", out.Purpose, out.Name, out.ID)
	return nil
}

func readiness(env *Env) error {
	fs := flags("readiness", env)
	var a apiFlags
	a.add(fs)
	pos, err := parse(fs, env.Args)
	if err != nil {
		return err
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	path := "/v1/readiness"
	if len(pos) == 1 {
		path += "?channel=" + url.QueryEscape(pos[0])
	}
	var out struct {
		Channels []struct {
			Channel string `json:"channel"`
			Ready   bool   `json:"ready"`
			Checks  []struct {
				Name   string   `json:"name"`
				OK     bool     `json:"ok"`
				Detail string   `json:"detail"`
				Items  []string `json:"items"`
			} `json:"checks"`
			Warnings []struct {
				Kind    string `json:"kind"`
				Message string `json:"message"`
			} `json:"warnings"`
		} `json:"channels"`
	}
	if err := c.Do(env.Context, "GET", path, nil, &out); err != nil {
		return err
	}
	if a.json {
		return printJSON(env.Stdout, out)
	}
	for _, ch := range out.Channels {
		state := "ready"
		if !ch.Ready {
			state = "NOT READY"
		}
		fmt.Fprintf(env.Stdout, "%s: %s\n", ch.Channel, state)
		for _, c := range ch.Checks {
			mark := "ok  "
			if !c.OK {
				mark = "FIX "
			}
			fmt.Fprintf(env.Stdout, "  %s %-24s %s\n", mark, c.Name, c.Detail)
			if !c.OK && len(c.Items) > 0 {
				fmt.Fprintf(env.Stdout, "       %s\n", strings.Join(c.Items, ", "))
			}
		}
		for _, w := range ch.Warnings {
			fmt.Fprintf(env.Stdout, "  warn %s\n", w.Message)
		}
	}
	return nil
}

func history(env *Env) error {
	fs := flags("history", env)
	var a apiFlags
	a.add(fs)
	sku := fs.String("sku", "", "only this SKU")
	channel := fs.String("channel", "", "only this channel")
	since := fs.String("since", "", "only since this time (RFC 3339)")
	limit := fs.Int("limit", 50, "at most this many entries")
	if _, err := parse(fs, env.Args); err != nil {
		return err
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	q := url.Values{}
	for k, v := range map[string]string{"sku": *sku, "channel": *channel, "since": *since} {
		if v != "" {
			q.Set(k, v)
		}
	}
	q.Set("limit", strconv.Itoa(*limit))
	var out struct {
		History []allot.HistoryEntry `json:"history"`
	}
	if err := c.Do(env.Context, "GET", "/v1/history?"+q.Encode(), nil, &out); err != nil {
		return err
	}
	if a.json {
		return printJSON(env.Stdout, out)
	}
	tw := table(env.Stdout)
	fmt.Fprintln(tw, "AT\tWHO\tACTION\tSUMMARY")
	for _, h := range out.History {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", h.At.Local().Format("2006-01-02 15:04:05"), h.Actor, h.Action, h.Summary)
	}
	return tw.Flush()
}
