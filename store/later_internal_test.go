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
