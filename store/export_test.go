package store

// FlushForTest writes what the transaction gathered (its outbox marks, its
// history) before its end, so that a test can hold their row locks.
func (tx *Tx) FlushForTest() error { return tx.flush() }
