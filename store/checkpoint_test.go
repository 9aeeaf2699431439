package store_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/allot/allot/store"
)

// SQLite's writers leave the log to the checkpointer: what they commit
// reaches the database file without a write waiting on it, and the log
// is written over from its start once checkpointed, rather than grown for
// ever (its file keeps the size of the most it held at once).
func TestSQLiteLogIsCheckpointedBesideTheWriter(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "allot.db")
	db := open(t, path)
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	const rows, size = 64, 16 << 10 // 1 MiB a transaction
	for range 8 {
		err := db.Write(ctx, 0, "t", time.Now(), func(tx *store.Tx) error {
			if _, err := tx.ExecForTest(`CREATE TABLE IF NOT EXISTS filler (b BLOB)`); err != nil {
				return err
			}
			for range rows {
				if _, err := tx.ExecForTest(`INSERT INTO filler VALUES (randomblob($1))`, size); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(4 * checkpointGap) // a pause in the writes: the log is checkpointed
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() >= 8*rows*size {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the database file holds %d bytes, the log the rest of %d committed", st.Size(), 8*rows*size)
		}
		time.Sleep(20 * time.Millisecond)
	}
	wal, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if wal.Size() > 3*rows*size {
		t.Errorf("the log grew to %d bytes for transactions of %d, checkpointed between them", wal.Size(), rows*size)
	}
}

// checkpointGap is store's least time between two checkpoints.
const checkpointGap = 100 * time.Millisecond
