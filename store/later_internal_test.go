package store

import (
	"slices"
	"testing"
)

func TestInsertsSentTogetherNumberTheirParametersInTurn(t *testing.T) {
	q, args := together([]statement{
		{`INSERT INTO a (x, y) SELECT * FROM unnest($1::bigint[], $2::text[])`, []any{"a1", "a2"}},
		{`INSERT INTO b (x) SELECT * FROM unnest($1::bigint[]) ON CONFLICT (x) DO UPDATE SET x = excluded.x`, []any{"b1"}},
		{`INSERT INTO c (v, w, x, y, z, p, q, r, s, t) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			[]any{"c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "c10"}},
	})
	want := `WITH w0 AS (INSERT INTO a (x, y) SELECT * FROM unnest($1::bigint[], $2::text[])), ` +
		`w1 AS (INSERT INTO b (x) SELECT * FROM unnest($3::bigint[]) ON CONFLICT (x) DO UPDATE SET x = excluded.x) ` +
		`INSERT INTO c (v, w, x, y, z, p, q, r, s, t) VALUES ($4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`
	if q != want {
		t.Errorf("statement\n%s\nwant\n%s", q, want)
	}
	if wantArgs := []any{"a1", "a2", "b1", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "c10"}; !slices.Equal(args, wantArgs) {
		t.Errorf("arguments %v, want %v", args, wantArgs)
	}
	one := statement{`DELETE FROM a WHERE x = $1`, []any{1}}
	if q, args := together([]statement{one}); q != one.q || len(args) != 1 {
		t.Errorf("one statement sent as %q %v", q, args)
	}
}

func TestAGroupsCountersGoWithItsOutboxMarksButTwoOutboxesApart(t *testing.T) {
	orders := statement{q: `INSERT INTO orders (id, merchant_id) SELECT * FROM unnest($1::bigint[], $2::bigint[])`}
	counters := statement{q: `INSERT INTO stock (product_id, warehouse_id, merchant_id, committed) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[])` +
		` ON CONFLICT (product_id, warehouse_id) DO UPDATE SET committed = stock.committed + excluded.committed`}
	marks := statement{q: `INSERT INTO sync_dirty (merchant_id, product_id, version, since) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[])` +
		` ON CONFLICT (merchant_id, product_id) DO UPDATE SET version = sync_dirty.version + 1`}
	pending := statement{q: `INSERT INTO sync_pending (listing_id, quantity) SELECT * FROM unnest($1::bigint[], $2::bigint[])` +
		` ON CONFLICT (listing_id) DO UPDATE SET quantity = excluded.quantity`}
	history := statement{q: `INSERT INTO history (merchant_id, summary) SELECT * FROM unnest($1::bigint[], $2::text[])`}
	for _, c := range []struct {
		name    string
		waiting []statement
		st      statement
		want    bool
	}{
		{"counters after orders", []statement{orders}, counters, true},
		{"outbox marks after counters", []statement{orders, counters}, marks, true},
		{"history after all", []statement{orders, counters, marks}, history, true},
		{"a second insert into one table", []statement{orders, counters}, orders, false},
		{"pending pushes after outbox marks", []statement{orders, marks}, pending, false},
		{"outbox marks after pending pushes", []statement{pending}, marks, false},
		{"counters after counters", []statement{counters}, counters, false},
	} {
		if got := joins(c.waiting, c.st); got != c.want {
			t.Errorf("%s: joins = %v, want %v", c.name, got, c.want)
		}
	}
}
