package store_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot/store"
)

// SQLite's writers leave the log to the checkpointer: what they commit
// reaches the database file without a write waiting on it, and the log
// is written over from its start once checkpointed, rather than grown for
// ever (its file keeps the size of the most it held at once).
func TestSQLiteLogIsCheckpointedBesideTheWriter(t *testing.T) {
	defer store.SetCheckpointingForTest(checkpointGap, 1<<30)()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "allot.db")
	db := open(t, path)
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	const rows, size = 64, 16 << 10 // 1 MiB a transaction
	for range 8 {
		fill(t, db, rows, size)
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

// fill commits, in one transaction, rows random blobs of size bytes to a
// table of its own.
func fill(t *testing.T, db *store.DB, rows, size int) {
	t.Helper()
	err := db.Write(context.Background(), 0, "t", time.Now(), func(tx *store.Tx) error {
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
}

// checkpointGap is the least time between two checkpoints in these tests.
const checkpointGap = 100 * time.Millisecond

// Under a stream of commits with reads always under way beside them, the
// log is never all copied with no reader in it, the moment SQLite's next
// writer needs to start it again from its beginning: it grew for as long
// as the stream lasted. The checkpointer starts it again itself once it
// passes a length, so its file stays near that length.
func TestSQLiteLogStartsAgainUnderReadsAndWrites(t *testing.T) {
	const rows, size = 4, 4 << 10 // 16 KiB and more a commit
	commits := 400
	if raceDetector {
		commits = 100 // SQLite's C under the detector writes ten times slower
	}
	grown := func(t *testing.T, restartFrames int) int64 {
		defer store.SetCheckpointingForTest(checkpointGap, restartFrames)()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		path := filepath.Join(t.TempDir(), "allot.db")
		db := open(t, path)
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		fill(t, db, 0, size) // the table the readers read
		// Two readers whose transactions overlap: one is always open.
		var readers sync.WaitGroup
		for i := range 2 {
			readers.Go(func() {
				time.Sleep(time.Duration(i) * 500 * time.Microsecond)
				for ctx.Err() == nil {
					db.Read(ctx, 0, time.Now(), func(tx *store.Tx) error {
						var n int
						tx.QueryRowForTest(`SELECT rowid FROM filler ORDER BY rowid DESC LIMIT 1`).Scan(&n)
						time.Sleep(time.Millisecond)
						return nil
					})
				}
			})
		}
		for range commits {
			fill(t, db, rows, size)
			time.Sleep(time.Millisecond)
		}
		cancel()
		readers.Wait()
		wal, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return wal.Size()
	}
	const frame = 4096 + 24
	never := grown(t, 1<<30)
	if never < int64(commits*rows*size) {
		t.Fatalf("without restarts the log holds %d bytes for %d written: the readers let SQLite start it again; the test shows nothing", never, commits*rows*size)
	}
	restarted := grown(t, 64)
	if restarted > never/3 {
		t.Errorf("the log grew to %d bytes with restarts past 64 frames (%d bytes), %d without", restarted, 64*frame, never)
	}
	t.Logf("log file: %d bytes without restarts, %d with", never, restarted)
}
